package reports

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"github.com/favad/favad/inspector"
)

// The snapshot file: the magic "FAVADRPT", the format version (4 bytes,
// big-endian), the payload's length (8 bytes), the payload (encoding/gob of
// snapshotData), and the payload's CRC-32 (IEEE, 4 bytes). A file of another
// format version is not read: the facts are rebuilt from the log.
const (
	snapshotMagic = "FAVADRPT"
	// snapshotFormat changes whenever the facts or how they are derived
	// change, so that an old snapshot is rebuilt rather than misread.
	snapshotFormat uint32 = 1
)

// Reasons a snapshot is not used.
var (
	errSnapshotFormat  = errors.New("reports: the snapshot is of another format")
	errSnapshotCorrupt = errors.New("reports: the snapshot is damaged")
	errSnapshotAhead   = errors.New("reports: the snapshot is ahead of the store (restored from an older backup?)")
)

// snapshotData is what a snapshot holds: the facts and the cursor. The
// indexes are rebuilt on load.
type snapshotData struct {
	// Codes lists the enumerations the small codes of the facts index
	// (categories, outcomes, statuses): a build that orders them otherwise
	// rebuilds rather than misreads.
	Codes      []string
	Cursor     uint64
	Strings    []string
	IDs        []string
	Complaints []complaintFact
	Findings   []findingFact
	Activities []activityFact
	Offices    map[uint32]officeInfo
}

func encodeSnapshot(s *state) (raw []byte, cursor uint64, err error) {
	var payload bytes.Buffer
	data := snapshotData{Codes: enumCodes(), Cursor: s.cursor, Strings: s.strs.strs, IDs: s.ids, Complaints: s.complaints,
		Findings: s.findings, Activities: s.activities, Offices: s.offices}
	if err := gob.NewEncoder(&payload).Encode(&data); err != nil {
		return nil, 0, fmt.Errorf("reports: encode snapshot: %w", err)
	}
	out := make([]byte, 0, len(snapshotMagic)+16+payload.Len())
	out = append(out, snapshotMagic...)
	out = binary.BigEndian.AppendUint32(out, snapshotFormat)
	out = binary.BigEndian.AppendUint64(out, uint64(payload.Len()))
	out = append(out, payload.Bytes()...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(payload.Bytes()))
	return out, s.cursor, nil
}

func decodeSnapshot(raw []byte) (*state, error) {
	head := len(snapshotMagic) + 12
	if len(raw) < head+4 || string(raw[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errSnapshotCorrupt
	}
	if v := binary.BigEndian.Uint32(raw[len(snapshotMagic):]); v != snapshotFormat {
		return nil, fmt.Errorf("%w (%d, this build reads %d)", errSnapshotFormat, v, snapshotFormat)
	}
	n := binary.BigEndian.Uint64(raw[len(snapshotMagic)+4:])
	if n != uint64(len(raw)-head-4) {
		return nil, errSnapshotCorrupt
	}
	payload := raw[head : head+int(n)]
	if crc32.ChecksumIEEE(payload) != binary.BigEndian.Uint32(raw[head+int(n):]) {
		return nil, errSnapshotCorrupt
	}
	var data snapshotData
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&data); err != nil {
		return nil, fmt.Errorf("%w: %v", errSnapshotCorrupt, err)
	}
	if !slices.Equal(data.Codes, enumCodes()) {
		return nil, fmt.Errorf("%w (its codes differ)", errSnapshotFormat)
	}
	if len(data.IDs) != len(data.Complaints) || len(data.Strings) == 0 || data.Strings[0] != "" {
		return nil, errSnapshotCorrupt
	}
	s := newState()
	s.cursor = data.Cursor
	s.strs.strs = data.Strings
	s.strs.ids = make(map[string]uint32, len(data.Strings))
	for i, str := range data.Strings {
		s.strs.ids[str] = uint32(i)
	}
	s.ids, s.complaints, s.findings, s.activities = data.IDs, data.Complaints, data.Findings, data.Activities
	if data.Offices != nil {
		s.offices = data.Offices
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.reindex()
	return s, nil
}

// check refuses facts whose references point nowhere, so that a damaged
// snapshot that still decodes cannot make a query panic.
func (s *state) check() error {
	nStr, nC := uint32(len(s.strs.strs)), int32(len(s.complaints))
	okStr := func(ids ...uint32) bool {
		for _, id := range ids {
			if id >= nStr {
				return false
			}
		}
		return true
	}
	for i := range s.complaints {
		f := &s.complaints[i]
		if !okStr(f.Office, f.Agency, f.Province, f.Assignee, f.OutcomeBy) || f.Category == 0 || int(f.Category) > len(inspector.Categories) ||
			int(f.Outcome) >= len(outcomeValues) || int(f.Status) >= len(statuses) {
			return errSnapshotCorrupt
		}
	}
	for i := range s.findings {
		f := &s.findings[i]
		if !okStr(f.Office, f.Agency, f.Province, f.Inspector) || f.Complaint >= nC {
			return errSnapshotCorrupt
		}
	}
	for i := range s.activities {
		f := &s.activities[i]
		if !okStr(f.Office, f.Agency, f.Province, f.Inspector) || f.Complaint >= nC {
			return errSnapshotCorrupt
		}
	}
	for office, info := range s.offices {
		if !okStr(office, info.Agency, info.Province) {
			return errSnapshotCorrupt
		}
	}
	return nil
}

// enumCodes lists, in order, the values the facts' small codes stand for.
func enumCodes() []string {
	var out []string
	for _, c := range inspector.Categories {
		out = append(out, "category:"+string(c))
	}
	for _, o := range outcomeValues {
		out = append(out, "outcome:"+string(o))
	}
	for _, s := range statuses {
		out = append(out, "status:"+string(s))
	}
	for _, r := range absenceReasons {
		out = append(out, "absence:"+string(r))
	}
	return out
}

func loadSnapshot(path string) (*state, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(raw)
}

// writeFileAtomic replaces path with data: a reader, or a crash, sees the
// old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, this fails harmlessly
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
