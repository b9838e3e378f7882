package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/push"
	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// envPrefix starts the name of every environment variable favad reads.
const envPrefix = "FAVAD_"

// envName is the environment variable behind a flag: --jwt-key-file is
// FAVAD_JWT_KEY_FILE.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// usageError is a mistake in the command line; favad exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// newFlagSet returns a flag set for one subcommand. Its usage text lists each
// flag with its environment variable.
func (c *cli) newFlagSet(name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("favad "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported once, by main
	fs.Usage = func() {}
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: favad %s %s\n\n%s\n", name, synopsis, summary)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		n := 0
		fs.VisitAll(func(f *flag.Flag) {
			if n == 0 {
				fmt.Fprintf(tw, "\nFlags (a flag wins over its environment variable):\n")
			}
			n++
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			env := "command line only"
			if !c.argOnly[fs][f.Name] {
				env = "$" + envName(f.Name)
			}
			fmt.Fprintf(tw, "  --%s\t%s\t%s%s\n", f.Name, env, f.Usage, def)
		})
		tw.Flush()
	}
	c.usage[fs] = usage
	return fs
}

// commandLineOnly marks flags of fs that name what one invocation acts on (an
// account, a file), as opposed to configuration: they are not read from the
// environment, so that a variable left set in a shell cannot silently choose
// which account is disabled or which file replaces the store.
func (c *cli) commandLineOnly(fs *flag.FlagSet, names ...string) {
	if c.argOnly[fs] == nil {
		c.argOnly[fs] = map[string]bool{}
	}
	for _, n := range names {
		c.argOnly[fs][n] = true
	}
}

// parseFlags parses args into fs, then fills every flag that was not given on
// the command line from its FAVAD_* environment variable, except those marked
// commandLineOnly. Flags win over the environment. A request for help prints
// the usage and returns flag.ErrHelp.
func (c *cli) parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage[fs](c.stdout)
		return flag.ErrHelp
	}
	if err != nil {
		if m := badFlagValue.FindStringSubmatch(err.Error()); m != nil {
			return usagef("%v%s (see '%s -h')", err, valueHint(fs.Lookup(m[1])), fs.Name())
		}
		return usagef("%v (see '%s -h')", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see '%s -h')", fs.Arg(0), fs.Name())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || c.argOnly[fs][f.Name] || bad != nil {
			return
		}
		if v, ok := c.lookupEnv(envName(f.Name)); ok && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = usagef("%s=%q: %v%s", envName(f.Name), v, err, valueHint(f))
			}
		}
	})
	return bad
}

// badFlagValue matches the flag package's error for a value it cannot read.
var badFlagValue = regexp.MustCompile(`^invalid (?:boolean )?value ".*" for (?:flag )?-([A-Za-z0-9-]+): `)

// valueHint says what a flag's value looks like where the flag package's
// own words ("parse error") do not.
func valueHint(f *flag.Flag) string {
	if f == nil {
		return ""
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "; give a duration such as 90s, 15m or 2h"
		case int, int64, uint, uint64:
			return "; give a whole number"
		case bool:
			return "; give true or false"
		}
	}
	return ""
}

func (c *cli) lookupEnv(name string) (string, bool) {
	v := c.getenv(name)
	return v, v != ""
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// storeFile is the store's file inside the data directory.
func storeFile(dataDir string) string { return filepath.Join(dataDir, "favad.db") }

// reportsSnapshotFile holds the reports' aggregates inside the data directory.
func reportsSnapshotFile(dataDir string) string { return filepath.Join(dataDir, "reports.snapshot") }

// adminSocketFile is the admin socket inside the data directory.
func adminSocketFile(dataDir string) string { return filepath.Join(dataDir, "admin.sock") }

// serveConfig is the configuration of `favad serve`, as read from flags and
// the environment. register declares the flags and their defaults; validate
// checks them and derives the typed values, in one place.
type serveConfig struct {
	Addr           string        // --addr: TCP address of the API
	Data           string        // --data: directory of the store, keys and admin socket
	Demo           bool          // --demo: load demo data into an empty store
	JWTKeyFile     string        // --jwt-key-file: signing keys; "" means <data>/jwt-keys.json
	LogLevel       string        // --log-level: debug, info, warn or error
	CORSOrigins    string        // --cors-origins: comma list of browser origins
	TLSCert        string        // --tls-cert: PEM certificate; with --tls-key
	TLSKey         string        // --tls-key: PEM private key; with --tls-cert
	TrustedProxies string        // --trusted-proxies: comma list of CIDRs whose X-Forwarded-For is believed
	AccessTTL      time.Duration // --access-ttl: 0 means the server's default
	RefreshTTL     time.Duration // --refresh-ttl: 0 means the server's default
	SLA            string        // --sla: priority=duration list
	SLAReferral    time.Duration // --sla-referral: how long an office has to answer a referral
	SLAWatchEvery  time.Duration // --sla-watch-every: how often breached due times are looked for
	Retention      time.Duration // --tombstone-retention: how long removals stay in the scope logs
	EvidenceMax    int64         // --evidence-max-size: the largest evidence file, in bytes
	CaptureSlack   time.Duration // --evidence-capture-slack: how far outside the visit a photo may be taken unflagged
	MaxDistanceM   float64       // --evidence-max-distance: metres from the office before a photo is flagged
	FCMCredentials string        // --fcm-credentials: service account JSON; default $GOOGLE_APPLICATION_CREDENTIALS
	PushWindow     time.Duration // --push-window: a burst of changes within it is one message per device
	TokenStale     time.Duration // --push-token-stale-after: tokens not confirmed this long get no sends
	SyncTTL        time.Duration // --push-ttl-sync: lifetime of a data-only sync message
	AssignmentTTL  time.Duration // --push-ttl-assignment: lifetime of an assignment notification
	UploadMaxAge   time.Duration // --upload-max-age: incomplete uploads idle longer are removed
	MediaMissing   time.Duration // --media-missing-after: a record without its bytes this long is "media missing"
	Unclaimed      time.Duration // --unclaimed-upload-retention: bytes whose record never comes are removed after it
	BodyIdle       time.Duration // --body-idle-timeout: a request body that sends no byte this long is cut off
	ConnsPerAddr   int           // --max-conns-per-addr: connections one client address may hold; 0 means no bound
	PushInFlight   int           // --push-in-flight: mutations of pushes worked on at once
	PushQueueWait  time.Duration // --push-queue-wait: how long a push waits for room before 503 busy
	Blob           blobConfig    // --blob-store and --s3-*: where evidence bytes are kept
	BackupTo       string        // --backup-to: s3://bucket/prefix for scheduled backups; "" means none
	BackupEvery    time.Duration // --backup-every: how often a scheduled backup is taken
	BackupKeep     int           // --backup-keep: how many scheduled backups are kept

	// Derived by validate.
	level   slog.Level
	origins []string
	proxies []netip.Prefix
	sla     inspector.SLA
	conns   int // --max-conns-per-addr as server.Config takes it (negative: no bound)
}

// Defaults of `favad serve`.
const (
	defaultAddr = "127.0.0.1:8128"
	defaultData = "./data"
)

func (s *serveConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&s.Addr, "addr", defaultAddr, "address to listen on; port 0 picks a free port")
	fs.StringVar(&s.Data, "data", defaultData, "data directory: the store favad.db, the signing keys and admin.sock")
	s.Blob.register(fs)
	fs.StringVar(&s.BackupTo, "backup-to", "", "s3://bucket/prefix: take scheduled backups of the store there (on the --s3-endpoint server), every --backup-every")
	fs.DurationVar(&s.BackupEvery, "backup-every", time.Hour, "with --backup-to: how often a backup is taken")
	fs.IntVar(&s.BackupKeep, "backup-keep", 48, "with --backup-to: how many backups are kept; older ones are deleted")
	fs.BoolVar(&s.Demo, "demo", false, "load the Qazvin demo data and accounts into an empty store, and print the logins")
	fs.StringVar(&s.JWTKeyFile, "jwt-key-file", "", "token signing keys, created on first start (default <data>/jwt-keys.json)")
	fs.StringVar(&s.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&s.CORSOrigins, "cors-origins", "", "comma-separated browser origins allowed to call the API (default same-origin only)")
	fs.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate file, to serve HTTPS (needs --tls-key)")
	fs.StringVar(&s.TLSKey, "tls-key", "", "PEM private key file, to serve HTTPS (needs --tls-cert)")
	fs.StringVar(&s.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	fs.DurationVar(&s.AccessTTL, "access-ttl", 0, "access token lifetime (default 15m)")
	fs.DurationVar(&s.RefreshTTL, "refresh-ttl", 0, "refresh token lifetime, extended on each use (default 720h)")
	fs.StringVar(&s.FCMCredentials, "fcm-credentials", "", "Firebase service-account JSON for FCM (default $GOOGLE_APPLICATION_CREDENTIALS; none: log-only)")
	fs.DurationVar(&s.PushWindow, "push-window", 2*time.Second, "changes for a device within this window make one push message")
	fs.DurationVar(&s.TokenStale, "push-token-stale-after", favsync.DefaultTokenStaleAfter, "a device token not confirmed this long gets no sends (removed at 270 days)")
	fs.DurationVar(&s.SyncTTL, "push-ttl-sync", push.DefaultTTLs().Sync, "lifetime of a data-only sync message at FCM")
	fs.DurationVar(&s.AssignmentTTL, "push-ttl-assignment", push.DefaultTTLs().Assignment, "lifetime of an assignment notification at FCM")
	fs.Int64Var(&s.EvidenceMax, "evidence-max-size", favsync.DefaultEvidenceMaxSize, "the largest evidence file accepted, in bytes")
	fs.DurationVar(&s.CaptureSlack, "evidence-capture-slack", inspector.DefaultEvidenceLimits().CaptureSlack, "a photo taken this long before check-in or after check-out is not yet flagged")
	fs.Float64Var(&s.MaxDistanceM, "evidence-max-distance", inspector.DefaultEvidenceLimits().MaxDistanceM, "a photo taken farther than this many metres from the office is flagged")
	fs.DurationVar(&s.UploadMaxAge, "upload-max-age", 48*time.Hour, "incomplete uploads idle this long are removed")
	fs.DurationVar(&s.MediaMissing, "media-missing-after", 24*time.Hour, "an evidence record whose bytes have not come this long is shown as media missing")
	fs.DurationVar(&s.Unclaimed, "unclaimed-upload-retention", favsync.PendingUploadRetention, "uploaded bytes whose evidence record has not come this long are removed")
	fs.DurationVar(&s.BodyIdle, "body-idle-timeout", 30*time.Second, "a request body (an upload too) that sends no byte this long is cut off; a body that keeps coming, however slowly, is not")
	fs.IntVar(&s.ConnsPerAddr, "max-conns-per-addr", server.DefaultMaxConnsPerAddr, "connections one client address (IPv6: /64) may hold open at once, trusted proxies apart; 0 means no bound")
	fs.IntVar(&s.PushInFlight, "push-in-flight", server.DefaultPushInFlight, "mutations of pushes the server works on at once; a push that finds no room waits --push-queue-wait, then is answered 503 busy")
	fs.DurationVar(&s.PushQueueWait, "push-queue-wait", server.DefaultPushQueueWait, "how long a push waits for room before 503 busy with Retry-After (nothing applied); keep it well under the phones' HTTP timeout")
	fs.DurationVar(&s.Retention, "tombstone-retention", favsync.DefaultTombstoneRetention, "how long sync removals are kept; devices offline longer get a full resync")
	fs.StringVar(&s.SLA, "sla", "", "due times by priority, e.g. urgent=1h,high=4h,normal=24h,low=72h; missing ones keep these defaults")
	fs.DurationVar(&s.SLAReferral, "sla-referral", favsync.DefaultReferralSLA, "how long an office has to answer a complaint referred to it")
	fs.DurationVar(&s.SLAWatchEvery, "sla-watch-every", 30*time.Second, "how often complaints past their due time are looked for (each breach is reported once)")
}

// validate checks the configuration and fills the derived fields. Its errors
// are usage errors.
func (s *serveConfig) validate() error {
	if strings.TrimSpace(s.Addr) == "" {
		return usagef("--addr is empty")
	}
	if strings.TrimSpace(s.Data) == "" {
		return usagef("--data is empty")
	}
	if s.JWTKeyFile == "" {
		s.JWTKeyFile = filepath.Join(s.Data, "jwt-keys.json")
	}
	if s.EvidenceMax < 1<<10 || s.EvidenceMax > 1<<30 {
		return usagef("--evidence-max-size %d: 1 KiB to 1 GiB", s.EvidenceMax)
	}
	if s.CaptureSlack < 0 || s.CaptureSlack > 24*time.Hour {
		return usagef("--evidence-capture-slack %s: 0 to 24h", s.CaptureSlack)
	}
	if !(s.MaxDistanceM >= 10 && s.MaxDistanceM <= 100_000) { // also refuses NaN
		return usagef("--evidence-max-distance %g: 10 to 100000 metres", s.MaxDistanceM)
	}
	if s.UploadMaxAge < time.Minute || s.MediaMissing < time.Minute {
		return usagef("--upload-max-age and --media-missing-after: at least 1m")
	}
	if s.TokenStale < 24*time.Hour || s.TokenStale >= favsync.DefaultTokenRemoveAfter {
		return usagef("--push-token-stale-after %s: at least 24h, and less than the 270 days after which tokens are removed", s.TokenStale)
	}
	if s.Unclaimed < time.Hour {
		return usagef("--unclaimed-upload-retention %s: at least 1h, so that a record held on a phone has time to come", s.Unclaimed)
	}
	if s.Retention < time.Hour {
		return usagef("--tombstone-retention %s: at least 1h, so that a short outage does not force full resyncs", s.Retention)
	}
	if s.BodyIdle < time.Second || s.BodyIdle > 10*time.Minute {
		return usagef("--body-idle-timeout %s: 1s to 10m", s.BodyIdle)
	}
	if s.PushInFlight < favsync.MaxPushBatch {
		return usagef("--push-in-flight %d: at least %d, one full push", s.PushInFlight, favsync.MaxPushBatch)
	}
	if s.PushQueueWait < 100*time.Millisecond || s.PushQueueWait > time.Minute {
		return usagef("--push-queue-wait %s: 100ms to 1m", s.PushQueueWait)
	}
	switch {
	case s.ConnsPerAddr < 0:
		return usagef("--max-conns-per-addr %d: 0 (no bound) or more", s.ConnsPerAddr)
	case s.ConnsPerAddr == 0:
		s.conns = -1
	default:
		s.conns = s.ConnsPerAddr
	}
	if s.BackupTo != "" && (s.BackupEvery < time.Second || s.BackupKeep < 1) {
		return usagef("--backup-every %s, --backup-keep %d: at least 1s and 1", s.BackupEvery, s.BackupKeep)
	}
	if err := s.level.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", s.LogLevel)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return usagef("--tls-cert and --tls-key go together: give both or neither")
	}
	s.origins = splitList(s.CORSOrigins)
	s.proxies = nil
	for _, p := range splitList(s.TrustedProxies) {
		prefix, err := parsePrefix(p)
		if err != nil {
			return usagef("--trusted-proxies: %q is not a CIDR such as 10.0.0.0/8", p)
		}
		s.proxies = append(s.proxies, prefix)
	}
	if s.AccessTTL < 0 || s.RefreshTTL < 0 {
		return usagef("--access-ttl and --refresh-ttl must be positive")
	}
	if s.SLAReferral < time.Hour {
		return usagef("--sla-referral %s: at least 1h", s.SLAReferral)
	}
	if s.SLAWatchEvery < time.Second || s.SLAWatchEvery > time.Hour {
		return usagef("--sla-watch-every %s: 1s to 1h", s.SLAWatchEvery)
	}
	sla, err := inspector.ParseSLA(s.SLA)
	if err != nil {
		return usagef("--sla: %v", err)
	}
	s.sla = sla
	return nil
}

// parsePrefix reads a CIDR; a bare address means that one host.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
