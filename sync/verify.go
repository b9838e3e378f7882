package sync

import (
	"errors"
	"fmt"

	"github.com/favad/favad/sync/blob"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	ChainEntries int      `json:"chain_entries"` // evidence records checked in their chains
	Blobs        int      `json:"blobs"`         // blobs rehashed
	Problems     []string `json:"problems"`      // every break found; empty when all is well
}

// Verify rechecks the chain of custody: every complaint's evidence hash
// chain, that every stored evidence item's bytes exist, and (when blobs can
// verify) that every blob's bytes still hash to its name.
func (s *Store) Verify(blobs blob.Store) (VerifyReport, error) {
	r := VerifyReport{Problems: []string{}}
	n, breaks, err := s.VerifyChains()
	if err != nil {
		return r, fmt.Errorf("verify chains: %w", err)
	}
	r.ChainEntries = n
	for _, b := range breaks {
		r.Problems = append(r.Problems, fmt.Sprintf("complaint %s, chain entry %d (evidence %s): %s", b.ComplaintID, b.Seq, b.EvidenceID, b.Problem))
	}
	err = s.StoredBlobs(func(id, sha string) {
		f, _, _, err := blobs.Open(sha)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			r.Problems = append(r.Problems, fmt.Sprintf("evidence %s: its bytes (%s) are missing", id, sha))
		case err != nil:
			r.Problems = append(r.Problems, fmt.Sprintf("evidence %s: %v", id, err))
		default:
			f.Close()
		}
	})
	if err != nil {
		return r, fmt.Errorf("verify evidence: %w", err)
	}
	if v, ok := blobs.(blob.Verifier); ok {
		r.Blobs, err = v.Verify(func(hash string, err error) {
			r.Problems = append(r.Problems, fmt.Sprintf("blob %s: %v", hash, err))
		})
		if err != nil {
			return r, fmt.Errorf("verify blobs: %w", err)
		}
	}
	return r, nil
}
