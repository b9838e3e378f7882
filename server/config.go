package server

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// Config is everything the server needs. Only package cmd/favad fills it from
// flags and the environment; defaults and validation live here.
type Config struct {
	Store  *favsync.Store // required
	Keys   *auth.KeySet   // required
	Logger *slog.Logger   // nil: slog.Default()
	Spec   []byte         // the OpenAPI document served at /openapi.yaml

	AccessTTL  time.Duration // access token lifetime; default 15m
	RefreshTTL time.Duration // refresh token lifetime, extended on each use; default 30 days

	// BodyLimit bounds JSON request bodies; default 1 MiB. ImportLimit bounds
	// the CSV import; default 5 MiB.
	BodyLimit   int64
	ImportLimit int64
	// PushLimit bounds a sync push (up to 500 mutations); default 4 MiB.
	PushLimit int64

	// LoginPerAccount bounds failed sign-ins a minute on one account from one
	// address (past it, that address is refused for that account), and from
	// all addresses together (past it, only addresses without a failure on
	// the account in the last 15 minutes get through); default 10.
	// LoginPerAddress bounds every sign-in attempt a minute from one address;
	// default 60. Enrolments share LoginPerAddress.
	LoginPerAccount int
	LoginPerAddress int
	// TrackPerAddress bounds tracking-code lookups per minute per address; default 30.
	TrackPerAddress int
	// LoginConcurrency bounds the password checks running at once (each
	// holds 19 MiB); default twice the CPUs, at least 4. LoginQueueWait is how
	// long a sign-in waits for a free check before 503 busy; default 2s.
	LoginConcurrency int
	LoginQueueWait   time.Duration
	// PushInFlight bounds the mutations of the pushes the server works on
	// at once; default DefaultPushInFlight. A push that cannot start within
	// PushQueueWait (default DefaultPushQueueWait) is answered 503 busy with
	// Retry-After, nothing applied (see pushGate).
	PushInFlight  int
	PushQueueWait time.Duration

	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers; default 10s. BodyIdleTimeout bounds how long a
	// request body may go without a byte: the deadline moves forward as
	// bytes arrive, so that a slow phone that keeps sending finishes while a
	// client that stalls is cut off; default 30s. Evidence uploads (tus
	// PATCH) use it too.
	ReadHeaderTimeout time.Duration
	BodyIdleTimeout   time.Duration
	// MaxConnsPerAddr bounds the connections one client address (an IPv6
	// /64) holds open at once, in LimitListener; a connection past it is
	// closed before it is served. Connections from TrustedProxies are not
	// counted. Default 256; negative means no bound.
	MaxConnsPerAddr int

	// CORSOrigins allowed to call the API from a browser; empty means same-origin only.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// Now is the clock; nil means the store's.
	Now func() time.Time

	// Blobs holds evidence bytes; UploadDir holds uploads in progress (or,
	// when Blobs keeps them in its bucket, only the temporary parts of
	// their chunks while they are sent). Both required.
	Blobs     blob.Store
	UploadDir string
	// ReadPhotoMeta reads the EXIF of a photo of size bytes (package
	// media's ReadPhotoMetaAt); nil skips it.
	ReadPhotoMeta func(r io.ReaderAt, size int64) (*inspector.PhotoMeta, error)
	// Thumbnails serves thumbnails made by the worker; nil means none.
	Thumbnails ThumbnailSource
	// Hub holds live sync streams; nil means a new one.
	Hub *Hub
	// StreamHeartbeat is how often an idle live stream sends a comment, so
	// that proxies do not close it; default 20s.
	StreamHeartbeat time.Duration
	// Feed is the live feed's broker (GET /v1/feed); nil means a new one
	// over Store, whose reader runs while any feed is open.
	Feed *feed.Broker
	// FeedHeartbeat is how often an idle feed sends a comment and rechecks
	// its session; default 15s.
	FeedHeartbeat time.Duration
	// Collectors are extra Prometheus collectors served at /metrics (the push notifier's).
	Collectors []prometheus.Collector

	// Reports answers the report routes (a *reports.Aggregator, whose Run
	// the caller keeps going); nil makes them answer 503 unavailable.
	Reports Reports

	// MediaMissingAfter is how long a record may wait for its bytes before
	// dispatch sees it as "media missing"; default 24h.
	MediaMissingAfter time.Duration
	// UnclaimedUploadRetention is how long verified bytes wait for their
	// evidence record before the upload janitor removes them; default
	// favsync.PendingUploadRetention (30 days).
	UnclaimedUploadRetention time.Duration
}

// Limits callers see in the API documentation.
const (
	DefaultBodyLimit   = 1 << 20
	DefaultImportLimit = 5 << 20
	DefaultPushLimit   = 4 << 20
	DefaultPageSize    = 50
	MaxPageSize        = 200

	// DefaultMaxConnsPerAddr is the default of Config.MaxConnsPerAddr:
	// enough for an office of browsers or a carrier's NAT of phones behind
	// one address, far below what the server holds.
	DefaultMaxConnsPerAddr = 256

	// DefaultPushInFlight and DefaultPushQueueWait are the defaults of
	// Config.PushInFlight and PushQueueWait: eight full pushes, a few
	// seconds' work for the group commit; and a wait that, with that work,
	// keeps every answered push well inside a phone's 30 s HTTP timeout.
	DefaultPushInFlight  = 8 * favsync.MaxPushBatch
	DefaultPushQueueWait = 10 * time.Second
)

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("server: config needs a Store")
	}
	if c.Keys == nil {
		return errors.New("server: config needs signing Keys")
	}
	if c.Blobs == nil || c.UploadDir == "" {
		return errors.New("server: config needs Blobs and an UploadDir for evidence")
	}
	if c.Hub == nil {
		c.Hub = NewHub()
	}
	if c.StreamHeartbeat <= 0 {
		c.StreamHeartbeat = 20 * time.Second
	}
	if c.FeedHeartbeat <= 0 {
		c.FeedHeartbeat = 15 * time.Second
	}
	if c.MediaMissingAfter == 0 {
		c.MediaMissingAfter = 24 * time.Hour
	}
	if c.UnclaimedUploadRetention <= 0 {
		c.UnclaimedUploadRetention = favsync.PendingUploadRetention
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Feed == nil {
		c.Feed = feed.NewBroker(c.Store, feed.Options{Logger: c.Logger})
	}
	if c.Now == nil {
		c.Now = c.Store.Now
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.AccessTTL < 0 || c.RefreshTTL < c.AccessTTL {
		return errors.New("server: refresh TTL must be at least the access TTL, both positive")
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.BodyIdleTimeout <= 0 {
		c.BodyIdleTimeout = 30 * time.Second
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.ImportLimit == 0 {
		c.ImportLimit = DefaultImportLimit
	}
	if c.PushLimit == 0 {
		c.PushLimit = DefaultPushLimit
	}
	if c.LoginPerAccount == 0 {
		c.LoginPerAccount = 10
	}
	if c.TrackPerAddress == 0 {
		c.TrackPerAddress = 30
	}
	if c.LoginPerAddress == 0 {
		c.LoginPerAddress = 60
	}
	if c.LoginConcurrency <= 0 {
		c.LoginConcurrency = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if c.PushInFlight <= 0 {
		c.PushInFlight = DefaultPushInFlight
	}
	if c.PushQueueWait <= 0 {
		c.PushQueueWait = DefaultPushQueueWait
	}
	if c.LoginQueueWait <= 0 {
		c.LoginQueueWait = 2 * time.Second
	}
	return nil
}
