package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sendoka/sendoka/hosts/server"
)

// group names a family of settings; `sendoka CMD -h` prints a command's settings by group,
// and each command takes only the groups it uses.
type group string

// The groups, in the order help and the README print them.
const (
	groupServer   group = "server"
	groupDatabase group = "database"
	groupEmail    group = "email provider"
	groupSMS      group = "SMS provider"
	groupInbound  group = "inbound mail"
	groupQueue    group = "queue"
	groupLimits   group = "limits"
	groupData     group = "retention"
	groupProcess  group = "logs and process"
)

var groupOrder = []group{groupServer, groupDatabase, groupEmail, groupSMS, groupInbound, groupQueue, groupLimits, groupData, groupProcess}

// setting is one flag and the SENDOKA_* variable named after it.
type setting struct {
	group  group
	flag   string
	env    string
	def    string
	usage  string
	secret bool
}

// settings registers a command's flags and remembers, for each, its group, its variable and
// its default, so help, `sendoka config` and the README's table come from one source. The
// variables are applied after the command line: a flag wins over its variable.
type settings struct {
	fs    *flag.FlagSet
	allow map[group]bool
	cur   group
	list  []*setting
	// fromEnv and fromFlag name the settings whose value came from there (after parse).
	fromEnv, fromFlag map[string]bool
}

// newSettings returns the settings of a command that takes the given groups (none: all).
func newSettings(fs *flag.FlagSet, groups ...group) *settings {
	s := &settings{fs: fs, allow: map[group]bool{}}
	if len(groups) == 0 {
		groups = groupOrder
	}
	for _, g := range groups {
		s.allow[g] = true
	}
	return s
}

// group makes g the group of the settings registered next.
func (s *settings) group(g group) { s.cur = g }

// envName is the variable of a flag: SENDOKA_ and the flag in upper case, "-" as "_".
func envName(flagName string) string {
	return "SENDOKA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// add records a setting of the current group and reports whether the command takes it.
func (s *settings) add(name, def, usage string) bool {
	if !s.allow[s.cur] {
		return false
	}
	s.list = append(s.list, &setting{group: s.cur, flag: name, env: envName(name), def: def, usage: usage})
	return true
}

func (s *settings) str(p *string, name, def, usage string) {
	*p = def
	if s.add(name, def, usage) {
		s.fs.StringVar(p, name, def, usage)
	}
}

// secret is str for a value `sendoka config` masks.
func (s *settings) secret(p *string, name, def, usage string) {
	s.str(p, name, def, usage)
	if len(s.list) > 0 && s.list[len(s.list)-1].flag == name {
		s.list[len(s.list)-1].secret = true
	}
}

func (s *settings) int(p *int, name string, def int, usage string) {
	*p = def
	if s.add(name, fmt.Sprint(def), usage) {
		s.fs.IntVar(p, name, def, usage)
	}
}

func (s *settings) duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	if s.add(name, def.String(), usage) {
		s.fs.DurationVar(p, name, def, usage)
	}
}

func (s *settings) bool(p *bool, name string, def bool, usage string) {
	*p = def
	if s.add(name, fmt.Sprint(def), usage) {
		s.fs.BoolVar(p, name, def, usage)
	}
}

// errHelp is returned by parse after printing help: the command then exits 0.
var errHelp = errors.New("help printed")

// parse reads the command line, then the SENDOKA_* variables of the settings no flag set.
// -h and --help print the command's help to stdout and return errHelp.
func (s *settings) parse(args []string, stdout io.Writer, title string) error {
	s.fs.Usage = func() {}
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			s.help(stdout, title)
			return errHelp
		}
		return err
	}
	s.fromEnv, s.fromFlag = map[string]bool{}, map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { s.fromFlag[f.Name] = true })
	for _, st := range s.list {
		v, ok := os.LookupEnv(st.env)
		if !ok || v == "" || s.fromFlag[st.flag] {
			continue
		}
		if err := s.fs.Set(st.flag, v); err != nil {
			return fmt.Errorf("%s=%q: %v", st.env, v, err)
		}
		s.fromEnv[st.flag] = true
	}
	return nil
}

// source says where a setting's value came from: flag, env or default.
func (s *settings) source(name string) string {
	switch {
	case s.fromFlag[name]:
		return "flag"
	case s.fromEnv[name]:
		return "env"
	}
	return "default"
}

// help prints title, then the settings by group.
func (s *settings) help(w io.Writer, title string) {
	fmt.Fprintln(w, title)
	fmt.Fprintln(w, "\nEach flag can also be set by the SENDOKA_* variable shown beside it; a flag wins over its variable.")
	var extra []*flag.Flag // flags of the command alone (keys create -name, ...)
	s.fs.VisitAll(func(f *flag.Flag) {
		if !slices.ContainsFunc(s.list, func(st *setting) bool { return st.flag == f.Name }) {
			extra = append(extra, f)
		}
	})
	if len(extra) > 0 {
		fmt.Fprintln(w, "\noptions:")
		for _, f := range extra {
			fmt.Fprintf(w, "  -%s\n      %s%s\n", f.Name, f.Usage, defaultNote(f.DefValue))
		}
	}
	for _, g := range groupOrder {
		first := true
		for _, st := range s.list {
			if st.group != g {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s:\n", g)
				first = false
			}
			fmt.Fprintf(w, "  -%s  (%s)\n      %s%s\n", st.flag, st.env, st.usage, defaultNote(st.def))
		}
	}
}

func defaultNote(def string) string {
	if def == "" || def == "0" || def == "false" || def == "0s" {
		return ""
	}
	return " (default " + def + ")"
}

// value is a setting's current value as `sendoka config` prints it: secrets masked.
func (s *settings) value(st *setting) string {
	v := s.fs.Lookup(st.flag).Value.String()
	switch {
	case v == "":
	case st.secret:
		return "********"
	case st.flag == "database-url":
		return server.Redacted(v) // the password masked
	}
	return v
}

// markdown is the README's table of every setting: variable, flag, default, meaning.
func (s *settings) markdown(w io.Writer) {
	fmt.Fprintln(w, "| Variable | Flag | Default | Meaning |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, g := range groupOrder {
		fmt.Fprintf(w, "| **%s** | | | |\n", g)
		for _, st := range s.list {
			if st.group != g {
				continue
			}
			def := "empty"
			if st.def != "" {
				def = "`" + st.def + "`"
			}
			usage := strings.ReplaceAll(st.usage, "|", `\|`)
			fmt.Fprintf(w, "| `%s` | `-%s` | %s | %s |\n", st.env, st.flag, def, usage)
		}
	}
}
