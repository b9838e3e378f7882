package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	stdsync "sync"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// Config configures a Client. BaseURL and Username are required; everything
// else has a default.
type Config struct {
	// BaseURL is the server's root, e.g. "https://favad.example" (no /v1).
	BaseURL string
	// Username and Password are the inspector's credentials, used to sign
	// in on first use and whenever the server asks for a new sign-in.
	Username string
	Password string
	// AppVersion is sent as Favad-App-Version; default DefaultAppVersion.
	AppVersion string
	// DeviceID is used when the local file is created; afterwards the
	// stored id wins. Empty means "dev-" + a random UUID.
	DeviceID string
	// HTTPClient sends the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the device's clock; nil means time.Now. It stamps mutations
	// (device time and hybrid logical clock) and the ledger.
	Now func() time.Time
	// BatchSize bounds the mutations in one push; default 100, at most 500.
	BatchSize int
	// PullLimit is the page size asked of the server; 0 means the server's default.
	PullLimit int
	// BackoffBase and BackoffCap shape Run's exponential backoff with full
	// jitter after failures; defaults 1s and 1m.
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// LedgerKeep and LedgerMaxAge bound the ledger per account: an
	// acknowledged mutation stays while it is among the newest LedgerKeep
	// and was acknowledged within LedgerMaxAge (defaults 10,000 and 30
	// days); the newest acknowledged one always stays. Only what the ledger
	// holds can be re-sent to a server restored from a backup.
	LedgerKeep   int
	LedgerMaxAge time.Duration
	// PullOwnWrites makes the client pull its own notes, findings and call
	// records back from the server, as apps did before own_writes=omit
	// (it still builds them from the push answers, which the pull then
	// overwrites with the server's copy).
	PullOwnWrites bool
	// OnSync, if set, is called by Run after each Sync with its outcome.
	OnSync func(Report, error)
	// Logger receives the client's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Defaults and limits.
const (
	DefaultAppVersion = "favad-go-client/1"
	DefaultBatchSize  = 100
	// DefaultLedgerKeep and DefaultLedgerMaxAge bound the ledger (Config).
	DefaultLedgerKeep   = 10000
	DefaultLedgerMaxAge = 30 * 24 * time.Hour
	MaxBatchSize        = 500 // the server's MaxPushBatch
	ProtocolVersion     = 1
)

func (c *Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("client: config needs an absolute BaseURL")
	}
	if c.Username == "" {
		return errors.New("client: config needs a Username")
	}
	if c.AppVersion == "" {
		c.AppVersion = DefaultAppVersion
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	case c.BatchSize < 0 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("client: BatchSize must be 1..%d", MaxBatchSize)
	}
	if c.PullLimit < 0 {
		return errors.New("client: PullLimit cannot be negative")
	}
	if c.LedgerKeep < 0 || c.LedgerMaxAge < 0 {
		return errors.New("client: LedgerKeep and LedgerMaxAge cannot be negative")
	}
	if c.LedgerKeep == 0 {
		c.LedgerKeep = DefaultLedgerKeep
	}
	if c.LedgerMaxAge == 0 {
		c.LedgerMaxAge = DefaultLedgerMaxAge
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = time.Minute
	}
	if c.BackoffCap < c.BackoffBase {
		c.BackoffCap = c.BackoffBase
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Client is one device. Create it with Open; Close it when done.
type Client struct {
	cfg      Config
	db       *bolt.DB
	deviceID string
	log      *slog.Logger
	base     string

	syncMu stdsync.Mutex // one Sync at a time

	authMu  stdsync.Mutex
	access  string // the access token, in memory only
	account string // the signed-in account's id, from the token answer

	kick chan struct{}
}

// Open opens or creates the device file at path. A new file gets a device id
// that it keeps for its life.
func Open(path string, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open client: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("open client %s: %w", path, err)
	}
	c := &Client{cfg: cfg, db: db, log: cfg.Logger, base: trimSlash(cfg.BaseURL), kick: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initSchema(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		c.deviceID = getString(meta, keyDeviceID)
		if c.deviceID == "" {
			c.deviceID = cfg.DeviceID
			if c.deviceID == "" {
				c.deviceID = "dev-" + uuid.NewString()
			}
			if err := meta.Put(keyDeviceID, []byte(c.deviceID)); err != nil {
				return err
			}
		}
		// The file belongs to one user. Another user may take the device
		// over only once the queue is empty, so that no one's work is sent
		// under someone else's name; they start from a clean scope, and in
		// their own sequence space (sequences belong to account and device).
		switch owner := getString(meta, keyUsername); {
		case owner == cfg.Username:
			return nil
		case owner != "":
			if k, _ := tx.Bucket(bucketQueue).Cursor().First(); k != nil {
				return fmt.Errorf("%w (%s)", ErrOtherUser, owner)
			}
			if err := resetScope(tx); err != nil {
				return err
			}
			if err := switchAccount(tx, owner, cfg.Username); err != nil {
				return err
			}
		}
		return meta.Put(keyUsername, []byte(cfg.Username))
	})
	if err != nil {
		db.Close()
		if errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrOtherUser) {
			return nil, err
		}
		return nil, fmt.Errorf("open client %s: %w", path, err)
	}
	c.log = c.log.With(slog.String("device", c.deviceID))
	return c, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Close closes the local file. Nothing needs flushing: every change was
// committed when it was made.
func (c *Client) Close() error { return c.db.Close() }

// DeviceID returns the device's id, stable for the life of its file.
func (c *Client) DeviceID() string { return c.deviceID }

// Path returns the local file's path.
func (c *Client) Path() string { return c.db.Path() }

// HLC is a hybrid logical clock reading: wall clock milliseconds and a
// counter that orders events within one millisecond.
type HLC struct {
	WallMs  int64  `json:"wall_ms"`
	Logical uint32 `json:"logical"`
}

// Mutation is one queued change, exactly as it is sent to the server (the
// envelope of POST /v1/sync/push).
type Mutation struct {
	MutationID  string          `json:"mutation_id"`
	DeviceSeq   uint64          `json:"device_seq"`
	Kind        string          `json:"kind"`
	RecordID    string          `json:"record_id"`
	BaseVersion uint64          `json:"base_version"`
	DeviceTime  time.Time       `json:"device_time"`
	HLC         HLC             `json:"hlc"`
	Payload     json.RawMessage `json:"payload"`
}

// Result is the server's answer to one mutation (sync.Result on the wire).
type Result struct {
	MutationID   string          `json:"mutation_id"`
	DeviceSeq    uint64          `json:"device_seq"`
	Status       string          `json:"status"`
	RecordKind   string          `json:"record_kind,omitempty"`
	RecordID     string          `json:"record_id,omitempty"`
	Version      uint64          `json:"version,omitempty"`
	Rule         string          `json:"rule,omitempty"`
	WinningValue json.RawMessage `json:"winning_value,omitempty"`
	Code         string          `json:"code,omitempty"`
	Message      string          `json:"message,omitempty"`
	Fields       []FieldError    `json:"fields,omitempty"`
	ConflictIDs  []string        `json:"conflict_ids,omitempty"`
	ClockSkewS   int64           `json:"clock_skew_s,omitempty"`
	GapBefore    []uint64        `json:"gap_before,omitempty"`
	Replayed     bool            `json:"replayed,omitempty"`
}

// Result statuses.
const (
	StatusApplied        = "applied"
	StatusMerged         = "merged"
	StatusResolvedByRule = "resolved_by_rule"
	StatusRejected       = "rejected"
	// StatusDeferred: neither applied nor kept by the server (code
	// CodeTooManyConflicts); the mutation stays queued and is sent again.
	StatusDeferred = "deferred"
)

// Entry is one acknowledged mutation in the ledger: what was sent, what the
// server answered, and when (device clock) the answer was stored. ResentAt
// is set when it was sent again to a server that had lost it (restored from
// a backup); Result is then the new answer.
type Entry struct {
	Mutation Mutation   `json:"mutation"`
	Result   Result     `json:"result"`
	AckedAt  time.Time  `json:"acked_at"`
	ResentAt *time.Time `json:"resent_at,omitempty"`
}

// Record is the device's copy of one pulled record.
type Record struct {
	Kind    string          `json:"kind"`
	ID      string          `json:"id"`
	Version uint64          `json:"version"`
	Data    json.RawMessage `json:"record"`
}

// Queue returns the mutations not yet answered, in device order.
func (c *Client) Queue() ([]Mutation, error) {
	var out []Mutation
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(_, v []byte) error {
			var m Mutation
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode queued mutation: %w", err)
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// Ledger returns the acknowledged mutations the ledger holds (see
// Config.LedgerKeep), with their results, in device order.
func (c *Client) Ledger() ([]Entry, error) {
	var out []Entry
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLedger).ForEach(func(_, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode ledger entry: %w", err)
			}
			out = append(out, e)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Entry) int { return cmpUint(a.Mutation.DeviceSeq, b.Mutation.DeviceSeq) })
	return out, err
}

// LedgerEntry returns the acknowledged result of one mutation; ok is false if
// the mutation was never acknowledged.
func (c *Client) LedgerEntry(mutationID string) (e Entry, ok bool, err error) {
	err = c.db.View(func(tx *bolt.Tx) error {
		ok, err = getJSON(tx.Bucket(bucketLedger), []byte(mutationID), &e)
		return err
	})
	return e, ok, err
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Records returns the local copies of the records of kind ("complaint",
// "office", "agency", "visit", "finding", "call", "note", …), sorted by id.
func (c *Client) Records(kind string) ([]Record, error) {
	var out []Record
	prefix := recordKey(kind, "")
	err := c.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketRecords).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode record %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// Record returns the local copy of one record; ok is false if the device
// does not hold it.
func (c *Client) Record(kind, id string) (r Record, ok bool, err error) {
	err = c.db.View(func(tx *bolt.Tx) error {
		ok, err = getJSON(tx.Bucket(bucketRecords), recordKey(kind, id), &r)
		return err
	})
	return r, ok, err
}

// Cursor returns the stored pull cursor; "" before the first pull and after a wipe.
func (c *Client) Cursor() (string, error) {
	var s string
	err := c.db.View(func(tx *bolt.Tx) error {
		s = getString(tx.Bucket(bucketMeta), keyCursor)
		return nil
	})
	return s, err
}

// AckedThrough returns the highest device sequence the server acknowledged
// to the current account on this device (sent with every push as
// acked_through, so that a server restored from a backup is found out).
func (c *Client) AckedThrough() (uint64, error) { return c.metaSeq(keyAcked) }

// metaSeq reads the sequence number stored in the meta bucket under key
// (zero when there is none).
func (c *Client) metaSeq(key []byte) (uint64, error) {
	var n uint64
	err := c.db.View(func(tx *bolt.Tx) error {
		n = btoi(tx.Bucket(bucketMeta).Get(key))
		return nil
	})
	return n, err
}

// switchAccount keeps the previous account's sequence position and takes up
// the next account's (zero for an account new to this device).
func switchAccount(tx *bolt.Tx, from, to string) error {
	meta, accounts := tx.Bucket(bucketMeta), tx.Bucket(bucketAccounts)
	if err := putJSON(accounts, []byte(from), accountState{LastSeq: btoi(meta.Get(keyLastSeq)), AckedThrough: btoi(meta.Get(keyAcked))}); err != nil {
		return err
	}
	var next accountState
	if _, err := getJSON(accounts, []byte(to), &next); err != nil {
		return err
	}
	if err := meta.Put(keyLastSeq, itob(next.LastSeq)); err != nil {
		return err
	}
	return meta.Put(keyAcked, itob(next.AckedThrough))
}

// LastSeq returns the highest device sequence ever assigned to the current
// account on this device (0 for a new device or account).
func (c *Client) LastSeq() (uint64, error) { return c.metaSeq(keyLastSeq) }

// Clock returns the hybrid logical clock's last reading.
func (c *Client) Clock() (HLC, error) {
	var h HLC
	err := c.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketMeta), keyHLC, &h)
		return err
	})
	return h, err
}
