package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// A mutation whose envelope the server refuses (here an unknown kind) is
// answered "rejected" but neither stored nor kept on a conflict record, and
// the device's last sequence is not advanced past it. So dispatch never sees
// the rejected work ("the rejected item is kept where dispatch can see it"),
// and the next mutation is reported as following a gap, with a sequence_gap
// conflict record saying "work may be missing from the device" — although
// the server saw and answered it.
func TestEnvelopeRejectionIsKeptWithoutAGap(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	bad, _, err := d.Enqueue("complaint.teleport", c.ID, 0, nil)
	require.NoError(t, err)
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "پس از جهش", WrittenAt: time.Now()})
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 2)
	require.Equal(t, client.StatusRejected, rep.Results[0].Status)
	require.Equal(t, client.StatusApplied, rep.Results[1].Status)
	var gaps []string
	kept := false
	conflicts, _, err := e.store.Conflicts(favsync.ConflictFilter{Limit: 100})
	require.NoError(t, err)
	for _, cf := range conflicts {
		if cf.Rule == "sequence_gap" {
			gaps = append(gaps, cf.Message)
		}
		kept = kept || cf.MutationID == bad
	}
	assert.True(t, kept, "the rejected mutation is kept where dispatch can see it")
	assert.Empty(t, rep.Results[1].GapBefore, "the server answered seq 1: no gap")
	assert.Empty(t, gaps)
}
