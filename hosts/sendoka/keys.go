package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// keys manages API keys of an org (the first org unless -org is given).
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const keysUsage = "usage: sendoka keys create|list|revoke [flags]"
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, keysUsage+"\n\nRun \"sendoka keys create -h\" for the flags.")
		return errHelp
	}
	var c config
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := newSettings(fs, groupDatabase, groupLimits, groupProcess)
	c.flags(s)
	org := fs.String("org", "", "org id (default: the first org)")
	mode := fs.String("mode", "live", "create: live or test")
	name := fs.String("name", "", "create: a name for the key")
	scopes := fs.String("scopes", "", "create: comma-separated scopes (full_access, emails:send, emails:read, sms:send, sms:read, templates:write, api_keys:write, ...; the README lists them); empty = full access")
	cidrs := fs.String("allowed-cidrs", "", "create: comma-separated CIDRs the key may be used from")
	tenant := fs.String("tenant", "", "create: bind the key to this tenant (ten_...)")
	domains := fs.String("allowed-domains", "", "create: comma-separated sending domain ids (dom_...) the key may send from")
	expires := fs.Duration("expires-in", 0, "create: lifetime of the key (0 = never expires)")
	if err := s.parse(args, stdout, "usage: sendoka keys "+sub+" [flags]"); err != nil {
		return err
	}
	srv, _, _, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	client := srv.Client
	orgID := *org
	if orgID == "" {
		res, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
		if err != nil {
			return err
		}
		orgID = res.Org.ID
		for _, k := range res.NewKeys {
			fmt.Fprintln(stdout, "created default key:", k)
		}
	}

	// The command line acts for the whole org, as its administrator.
	admin := sendoka.SystemPrincipal(orgID, sendoka.Mode(*mode))
	switch sub {
	case "create":
		p := sendoka.CreateKeyParams{Name: *name, Mode: sendoka.Mode(*mode), AllowedCIDRs: splitList(*cidrs),
			TenantID: *tenant, AllowedDomainIDs: splitList(*domains)}
		for _, s := range splitList(*scopes) {
			p.Permissions = append(p.Permissions, sendoka.Permission(s))
		}
		if *expires > 0 {
			t := time.Now().Add(*expires).UTC()
			p.ExpiresAt = &t
		}
		key, plain, err := client.CreateAPIKey(ctx, admin, p)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "%s\t%s (shown once)\n", key.ID, plain)
		return nil
	case "list":
		list, err := client.ListAPIKeys(ctx, admin)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tMODE\tNAME\tSCOPES\tTENANT\tCIDRS\tDOMAINS\tCREATED\tEXPIRES\tLAST USED\tSTATE")
		for _, k := range list {
			state := "active"
			switch {
			case k.RevokedAt != nil:
				state = "revoked"
			case k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now()):
				state = "expired"
			}
			perms := make([]string, len(k.Permissions))
			for i, p := range k.Permissions {
				perms[i] = string(p)
			}
			// Written at most once a minute per key, so it is to the minute.
			lastUsed := "never"
			if k.LastUsedAt != nil {
				lastUsed = k.LastUsedAt.Format(time.RFC3339)
			}
			expiresAt := "never"
			if k.ExpiresAt != nil {
				expiresAt = k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Mode, k.Name,
				strings.Join(perms, ","), orDash(k.TenantID), orDash(strings.Join(k.AllowedCIDRs, ",")),
				orDash(strings.Join(k.AllowedDomainIDs, ",")), k.CreatedAt.Format(time.RFC3339), expiresAt, lastUsed, state)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: sendoka keys revoke KEY_ID")
		}
		if err := client.RevokeAPIKey(ctx, admin, fs.Arg(0)); err != nil {
			return describe(err)
		}
		fmt.Fprintln(stdout, "revoked", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown keys command %q (create, list, revoke)", sub)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describe turns a core error into a readable one, field errors included.
func describe(err error) error {
	e := sendoka.AsError(err)
	msg := e.Message
	for _, f := range e.Fields {
		msg += fmt.Sprintf("\n  %v: %s", f.Path, f.Message)
	}
	return errors.New(msg)
}
