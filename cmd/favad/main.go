// Command favad runs FAVAD, the server behind the 128 "administrative
// emergencies" hotline, and administers its data directory.
//
// Usage:
//
//	favad [serve] [flags]   run the API (the default command)
//	favad backup            copy the store, also while the server runs
//	favad restore           replace the store with a backup (server stopped)
//	favad standby           follow the backups in object storage; serve once promoted
//	favad users …           add, list, disable, enable, reset-password
//	favad demo              load the demo data into an empty store
//	favad version           print the version
//
// Every configuration flag can also be given as a FAVAD_* environment
// variable (--addr is FAVAD_ADDR, --jwt-key-file is FAVAD_JWT_KEY_FILE); a
// flag on the command line wins. Flags that name what one command acts on
// (--username, --out, --in, …) are read from the command line only. This package only wires the other packages together: it holds
// no domain logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	_ "time/tzdata" // EXIF times are read in Asia/Tehran, also on images without tzdata

	"github.com/favad/favad/inspector"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// cli is one invocation: its standard streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	usage          map[*flag.FlagSet]func(io.Writer)
	argOnly        map[*flag.FlagSet]map[string]bool // flags not read from the environment
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

var commands = []command{
	{"serve", "run the API server (the default command)", (*cli).serve},
	{"backup", "write a consistent copy of the store, also while the server runs", (*cli).backup},
	{"restore", "replace the store with a backup; the server must be stopped", (*cli).restore},
	{"standby", "follow the backups in object storage as a warm standby; serve once promoted", (*cli).standby},
	{"users", "manage accounts: add, list, disable, enable, reset-password", (*cli).users},
	{"verify", "recheck every evidence blob's hash and every complaint's evidence chain", (*cli).verify},
	{"demo", "load the Qazvin demo data and accounts into an empty store", (*cli).demo},
	{"simulate", "run simulated offline inspectors and dispatch against a server; count lost work", (*cli).simulate},
	{"storm", "measure a reconnect storm: N offline devices reconnect at once to a fresh server", (*cli).storm},
	{"version", "print the version", (*cli).version},
}

func main() {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(c.main(context.Background(), os.Args[1:]))
}

// main runs the command line args and returns the exit status: 0 on success,
// 1 on failure, 2 on a usage error, or a command's own (exitError).
func (c *cli) main(ctx context.Context, args []string) int {
	if c.usage == nil {
		c.usage = map[*flag.FlagSet]func(io.Writer){}
	}
	if c.argOnly == nil {
		c.argOnly = map[*flag.FlagSet]map[string]bool{}
	}
	err := c.s3Hint(c.run(ctx, args))
	var (
		ue usageError
		ee *exitError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "favad: %s\n", describe(err))
		return 2
	case errors.As(err, &ee):
		fmt.Fprintf(c.stderr, "favad: %s\n", describe(err))
		return ee.code
	default:
		fmt.Fprintf(c.stderr, "favad: %s\n", describe(err))
		return 1
	}
}

// s3Hint adds what to do to an object store's refusal, whose own words
// name no flag or variable.
func (c *cli) s3Hint(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var hint string
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		hint = "the S3 server speaks plain HTTP: give --s3-endpoint http://host:port"
	case strings.Contains(msg, "Access Denied"), strings.Contains(msg, "InvalidAccessKeyId"),
		strings.Contains(msg, "Access Key Id you provided does not exist"), strings.Contains(msg, "signature we calculated does not match"):
		if c.getenv(envPrefix+"S3_ACCESS_KEY") == "" && c.getenv("AWS_ACCESS_KEY_ID") == "" {
			hint = "no S3 credentials were given: set $" + envPrefix + "S3_ACCESS_KEY and $" + envPrefix + "S3_SECRET_KEY (or $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)"
		} else {
			hint = "check the S3 credentials ($" + envPrefix + "S3_ACCESS_KEY and $" + envPrefix + "S3_SECRET_KEY, else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)"
		}
	case strings.Contains(msg, "The specified bucket does not exist"):
		hint = "make the bucket first: FAVAD does not create buckets"
	}
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w\n  hint: %s", err, hint)
}

// exitError is a failure with its own exit status (not 1).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return c.serve(ctx, args)
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		c.printUsage(c.stdout)
		return nil
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd.run(c, ctx, args[1:])
		}
	}
	return usagef("unknown command %q (see 'favad help')", name)
}

func (c *cli) printUsage(w io.Writer) {
	fmt.Fprintf(w, "FAVAD — the server behind the 128 administrative emergencies hotline.\n\nUsage: favad <command> [flags]\n\nCommands:\n")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\nRun 'favad <command> -h' for a command's flags. Configuration flags may also\nbe set in the environment as FAVAD_<FLAG>, e.g. --addr as FAVAD_ADDR.\n")
}

func (c *cli) version(_ context.Context, args []string) error {
	fs := c.newFlagSet("version", "", "Print the version of this build.")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = " " + s.Value
			}
		}
	}
	fmt.Fprintf(c.stdout, "favad %s%s (%s %s/%s)\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// describe renders err for a person at a terminal: an application error's
// message and the fields at fault, without codes.
func describe(err error) string {
	var e *inspector.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := e.Message
	if e.Code == inspector.CodeInvalid && len(e.Fields) > 0 {
		msg = "invalid input:"
	}
	for _, f := range e.Fields {
		msg += fmt.Sprintf("\n  %s: %s", flagOf(f.Field), f.Message)
	}
	return msg
}

// flagOf names the command-line flag behind a field of the store's validation errors.
func flagOf(field string) string {
	switch field {
	case "username":
		return "--username"
	case "display_name":
		return "--name"
	case "role":
		return "--role"
	case "mode":
		return "--mode"
	case "region.province":
		return "--province"
	}
	return field
}
