package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildSendoka builds ./hosts/sendoka of the module the suite runs in into a temporary
// directory, removed by cl, and returns the binary's path.
func buildSendoka(ctx context.Context, cl *cleanups) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the suite inside the sendoka module (go run ./chaos)")
	}
	dir, err := os.MkdirTemp("", "sendoka-chaos-bin-*")
	if err != nil {
		return "", err
	}
	cl.add(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "sendoka")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hosts/sendoka")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./hosts/sendoka: %v\n%s", err, b)
	}
	return bin, nil
}
