package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// users manages the dashboard's users of an org (the first org unless -org is given).
func users(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usersUsage = "usage: sendoka users create|list|link [flags]"
	if len(args) == 0 {
		return errors.New(usersUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usersUsage+"\n\nRun \"sendoka users create -h\" for the flags.")
		return errHelp
	}
	var c config
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := newSettings(fs, groupServer, groupDatabase, groupLimits, groupProcess)
	c.flags(s)
	org := fs.String("org", "", "org id (default: the first org)")
	email := fs.String("email", "", "create, link: the user's email")
	role := fs.String("role", "viewer", "create: owner, admin or viewer")
	tenant := fs.String("tenant", "", "create: bind the user to this tenant (ten_...): they see only its data")
	if err := s.parse(args, stdout, "usage: sendoka users "+sub+" [flags]"); err != nil {
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
	}
	admin := sendoka.SystemPrincipal(orgID, sendoka.ModeLive)
	link := func(u *sendoka.User) error {
		token, err := client.CreateSignInLink(ctx, admin, u.ID)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", u.ID, u.Email, u.Role)
		fmt.Fprintf(stdout, "One-time sign-in link (valid %s): %s\n", sendoka.SignInLinkTTL, dashboardURL(c.addr)+"/signin/"+token)
		return nil
	}
	switch sub {
	case "create":
		u, err := client.CreateUser(ctx, admin, sendoka.UserRequest{Email: *email, Role: sendoka.Role(*role), TenantID: *tenant})
		if err != nil {
			return describe(err)
		}
		return link(u)
	case "link":
		list, err := client.ListUsers(ctx, admin)
		if err != nil {
			return err
		}
		for _, u := range list {
			if u.Email == *email {
				return link(u)
			}
		}
		return fmt.Errorf("no user %q", *email)
	case "list":
		list, err := client.ListUsers(ctx, admin)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tTENANT\tCREATED\tPASSWORD")
		for _, u := range list {
			pw := "set"
			if u.PasswordHash == "" {
				pw = "not yet (invited)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, orDash(u.TenantID), u.CreatedAt.Format(time.RFC3339), pw)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown users command %q (create, list, link)", sub)
}

// dashboardURL is where the dashboard answers for a listen address: a wildcard host is
// reached on localhost.
func dashboardURL(addr string) string {
	host := addr
	if len(host) > 0 && host[0] == ':' {
		host = "localhost" + host
	}
	for _, wild := range []string{"0.0.0.0:", "[::]:"} {
		if len(host) > len(wild) && host[:len(wild)] == wild {
			host = "localhost:" + host[len(wild):]
		}
	}
	return "http://" + host
}
