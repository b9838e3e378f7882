package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
)

// users runs `favad users <action>`: on the store directly when no server
// holds it, through the running server's admin socket otherwise.
func (c *cli) users(ctx context.Context, args []string) error {
	actions := []struct {
		name, summary string
		run           func(*cli, []string) error
	}{
		{"add", "create an account", (*cli).usersAdd},
		{"list", "list the accounts", (*cli).usersList},
		{"disable", "disable an account and end its sessions", func(c *cli, a []string) error { return c.usersSetDisabled("disable", a, true) }},
		{"enable", "enable a disabled account", func(c *cli, a []string) error { return c.usersSetDisabled("enable", a, false) }},
		{"reset-password", "set a new password and end the account's sessions", (*cli).usersResetPassword},
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := c.stdout
		fmt.Fprintf(w, "Usage: favad users <action> [flags]\n\nManage accounts: in the store directly, or through the running server\n(<data>/admin.sock) while it serves.\n\nActions:\n")
		for _, a := range actions {
			fmt.Fprintf(w, "  %-15s %s\n", a.name, a.summary)
		}
		if len(args) == 0 {
			return usagef("users needs an action: add, list, disable, enable or reset-password")
		}
		return nil
	}
	for _, a := range actions {
		if a.name == args[0] {
			return a.run(c, args[1:])
		}
	}
	return usagef("unknown users action %q (see 'favad users -h')", args[0])
}

func (c *cli) usersAdd(args []string) error {
	fs := c.newFlagSet("users add", "--username U --role R [flags]",
		"Create an account. The password is read from standard input with --password-stdin\n(one line), or asked for at the terminal; never from a flag.")
	data := fs.String("data", defaultData, "data directory")
	username := fs.String("username", "", "login name: 3–40 of a–z, 0–9, '.', '_', '-' (required)")
	role := fs.String("role", "", "dispatcher, inspector, supervisor, admin or office (required)")
	name := fs.String("name", "", "the person's display name (default the username)")
	mode := fs.String("mode", "", "inspectors: field or phone")
	province := fs.String("province", "", "inspectors: the province they work in")
	cities := fs.String("cities", "", "inspectors: comma-separated cities (default the whole province)")
	office := fs.String("office", "", "office accounts: the office code they answer for")
	agency := fs.String("agency", "", "office accounts: the agency code whose offices they answer for (with --province, only there)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	c.commandLineOnly(fs, "username", "role", "name", "mode", "province", "cities", "office", "agency", "password-stdin")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || *role == "" {
		return usagef("users add needs --username and --role")
	}
	if !inspector.Role(*role).Valid() {
		return usagef("--role %q: use dispatcher, inspector, supervisor, admin or office", *role)
	}
	n := favsync.NewUser{Username: *username, DisplayName: *name, Role: inspector.Role(*role), Mode: inspector.Mode(*mode),
		OfficeCode: *office, AgencyCode: *agency}
	if n.DisplayName == "" {
		n.DisplayName = *username
	}
	if *province != "" || *cities != "" {
		n.Region = &inspector.Region{Province: *province, Cities: splitList(*cities)}
	}
	accts, err := openAccounts(*data, true, true)
	if err != nil {
		return err
	}
	defer accts.Close()
	if n.PasswordHash, err = c.newPasswordHash(*pwStdin); err != nil {
		return err
	}
	u, err := accts.Create(n)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created %s %s (id %s)\n", u.Role, u.Username, u.ID)
	return nil
}

func (c *cli) usersList(args []string) error {
	fs := c.newFlagSet("users list", "[--data DIR] [--json]", "List the accounts by username.")
	data := fs.String("data", defaultData, "data directory")
	asJSON := fs.Bool("json", false, "print JSON, one array of users")
	c.commandLineOnly(fs, "json")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	accts, err := openAccounts(*data, false, false)
	if err != nil {
		return err
	}
	defer accts.Close()
	users, err := accts.List()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(users)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "USERNAME\tROLE\tMODE\tREGION\tSTATUS\tNAME\n")
	for _, u := range users {
		region, status := "-", "active"
		if u.Region != nil {
			region = u.Region.Province
			if len(u.Region.Cities) > 0 {
				region += ": " + strings.Join(u.Region.Cities, "، ")
			}
		}
		if u.Disabled {
			status = "disabled"
		}
		mode := string(u.Mode)
		if mode == "" {
			mode = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, mode, region, status, u.DisplayName)
	}
	return tw.Flush()
}

func (c *cli) usersSetDisabled(action string, args []string, disabled bool) error {
	fs := c.newFlagSet("users "+action, "--username U [--data DIR]", strings.ToUpper(action[:1])+action[1:]+" an account.")
	data := fs.String("data", defaultData, "data directory")
	username := fs.String("username", "", "the account (required)")
	c.commandLineOnly(fs, "username")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users %s needs --username", action)
	}
	accts, err := openAccounts(*data, false, true)
	if err != nil {
		return err
	}
	defer accts.Close()
	u, err := accts.SetDisabled(*username, disabled)
	if err != nil {
		return err
	}
	if disabled {
		fmt.Fprintf(c.stdout, "disabled %s; their sessions are ended\n", u.Username)
	} else {
		fmt.Fprintf(c.stdout, "enabled %s\n", u.Username)
	}
	return nil
}

func (c *cli) usersResetPassword(args []string) error {
	fs := c.newFlagSet("users reset-password", "--username U [--data DIR] [--password-stdin]",
		"Set a new password for an account and end its sessions.")
	data := fs.String("data", defaultData, "data directory")
	username := fs.String("username", "", "the account (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	c.commandLineOnly(fs, "username", "password-stdin")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users reset-password needs --username")
	}
	accts, err := openAccounts(*data, false, true)
	if err != nil {
		return err
	}
	defer accts.Close()
	if err := accts.Known(*username); err != nil {
		return err
	}
	hash, err := c.newPasswordHash(*pwStdin)
	if err != nil {
		return err
	}
	u, err := accts.SetPassword(*username, hash)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "new password set for %s; their sessions are ended\n", u.Username)
	return nil
}

// newPasswordHash reads a new password, from standard input (one line) or
// asked twice at the terminal, and hashes it.
func (c *cli) newPasswordHash(fromStdin bool) (string, error) {
	var pw string
	if fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			return "", fmt.Errorf("no password on standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		f, ok := c.stdin.(*os.File)
		if !ok || !isTerminal(f) {
			return "", usagef("no terminal to ask for the password: pass it on standard input with --password-stdin")
		}
		var err error
		if pw, err = c.promptPassword(f, "New password: "); err != nil {
			return "", err
		}
		again, err := c.promptPassword(f, "Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passwords differ")
		}
	}
	hash, err := auth.HashPassword(pw)
	if errors.Is(err, auth.ErrWeakPassword) {
		return "", fmt.Errorf("the password is too short: at least %d characters", auth.MinPasswordLength)
	}
	return hash, err
}

// promptPassword asks for a password at the terminal f without echoing it.
func (c *cli) promptPassword(f *os.File, prompt string) (string, error) {
	fmt.Fprint(c.stderr, prompt)
	pw, err := readNoEcho(f)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return pw, nil
}

// readLine reads up to a newline from f, one byte at a time so that nothing
// after the line is consumed.
func readLine(f *os.File) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		n, err := f.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				return strings.TrimRight(string(b), "\r"), nil
			}
			b = append(b, one[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
	}
}
