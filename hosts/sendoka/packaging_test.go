package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestHealthcheckCommand: `sendoka healthcheck` (the image's HEALTHCHECK) succeeds against a
// ready server and fails when nothing listens.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	srv := startServe(t, "-data-dir", t.TempDir())
	addr := strings.TrimPrefix(srv.base, "http://")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"healthcheck", "-addr", addr}, &out, io.Discard))
	require.Equal(t, "ready\n", out.String())
	require.NoError(t, srv.stop())
	require.Error(t, run(context.Background(), []string{"healthcheck", "-addr", addr}, io.Discard, io.Discard),
		"nothing listens any more")
}

// TestComposeFile is `make compose-check`: compose.yaml parses, and has the scale-out shape
// the README promises (Postgres; migrations once; an API without workers; a worker), every
// Sendoka service built from this repository's Dockerfile and pointed at the compose
// Postgres, and ordered by health. It runs offline: no image is pulled.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../compose.yaml")
	require.NoError(t, err)
	var doc struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Restart     string            `yaml:"restart"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck map[string]any `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	require.NoError(t, dec.Decode(&doc), "compose.yaml parses (anchors and merge keys resolved)")
	svc := doc.Services
	require.ElementsMatch(t, []string{"postgres", "migrate", "api", "worker"}, keysOf(svc))
	require.NotEmpty(t, svc["postgres"].Healthcheck["test"], "Postgres reports health")
	require.Contains(t, doc.Volumes, "pgdata")

	want := map[string][]string{"migrate": {"migrate"}, "api": {"serve", "-no-workers"}, "worker": {"worker"}}
	for name, cmd := range want {
		s := svc[name]
		require.Equal(t, cmd, s.Command, name)
		require.Equal(t, ".", s.Build, "%s is built from the Dockerfile", name)
		require.True(t, strings.HasPrefix(s.Environment["SENDOKA_DATABASE_URL"], "postgres://sendoka:sendoka@postgres:5432/"), name)
		// The long-running commands must take the settings given to them: a variable a
		// command does not know is ignored, so check them against its own settings.
		for env := range s.Environment {
			if name == "migrate" {
				break // it needs only the database's
			}
			require.True(t, takes(t, cmd[0], env), "%s: %s takes %s", name, cmd[0], env)
		}
	}
	require.Equal(t, "service_healthy", svc["migrate"].DependsOn["postgres"].Condition)
	require.Equal(t, "service_completed_successfully", svc["api"].DependsOn["migrate"].Condition)
	require.Equal(t, "service_completed_successfully", svc["worker"].DependsOn["migrate"].Condition)
	require.Equal(t, "no", svc["migrate"].Restart, "migrations run once, not in a loop")
	require.Equal(t, []string{"8080:8080"}, svc["api"].Ports)
}

// takes reports whether command reads the variable env (or it is none of Sendoka's).
func takes(t *testing.T, command, env string) bool {
	if !strings.HasPrefix(env, "SENDOKA_") {
		return true
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{command, "-h"}, &out, io.Discard))
	return strings.Contains(out.String(), "("+env+")")
}

// TestDockerfile: the image is multi-stage, static, non-root, and checks /readyz through
// `sendoka healthcheck` on the address it listens on.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	df := string(raw)
	require.Equal(t, 2, strings.Count(df, "\nFROM "), "two stages")
	require.Contains(t, df, "CGO_ENABLED=0", "a static binary")
	require.Contains(t, df, "distroless/static", "a small final image")
	require.Contains(t, df, "USER nonroot")
	require.Contains(t, df, `HEALTHCHECK`)
	require.Contains(t, df, `"healthcheck"]`)
	require.Contains(t, df, "SENDOKA_ADDR=0.0.0.0:8080", "listens beyond the container's loopback")
	require.Equal(t, "http://127.0.0.1:8080", defaultPublicURL("0.0.0.0:8080"), "and the health check dials it on loopback")
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBackupCommand: `sendoka backup DEST` copies the SQLite database of a running server;
// a server started on the copy has the message sent before it; DEST must not exist.
func TestBackupCommand(t *testing.T) {
	t.Parallel()
	dir, key := t.TempDir(), testKey("bk")
	srv := startServe(t, "-data-dir", dir, "-bootstrap-keys", key)
	code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", key, map[string]any{
		"from": "you@sandbox.sendoka.com", "to": []string{"a@example.com"}, "subject": "Hi", "text": "Hello",
	})
	require.Equal(t, http.StatusOK, code, sent)

	restored := t.TempDir()
	dest := filepath.Join(restored, "sendoka.db")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"backup", "-data-dir", dir, "-log-level", "error", dest}, &out, io.Discard))
	require.Contains(t, out.String(), "backed up to")
	require.ErrorContains(t, run(context.Background(), []string{"backup", "-data-dir", dir, "-log-level", "error", dest}, io.Discard, io.Discard),
		"exists", "an existing file is never overwritten")
	require.NoError(t, srv.stop())

	copySrv := startServe(t, "-data-dir", restored)
	code, got := copySrv.do(t, http.MethodGet, "/api/v1/emails/"+sent["id"].(string), key, nil)
	require.Equal(t, http.StatusOK, code, "the copy has the key and the message: %v", got)
	require.NoError(t, copySrv.stop())
}
