package sync

import (
	"fmt"
	stdsync "sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func TestConcurrentCreates(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	u := mustCreateUser(t, s, "ali", inspector.RoleInspector, inspector.ModeField)
	base := lastSeq(t, s)

	const workers, each = 8, 15
	offices := []string{"QZ-SSO-01", "TK-SSO-01", "QZ-TAX-01", "AB-TAX-01"}
	var (
		wg      stdsync.WaitGroup
		mu      stdsync.Mutex
		created []inspector.Complaint
		reads   atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c, ok, err := s.CreateComplaint(dispatcher, intake(fmt.Sprintf("W%d-%d", w, i), offices[(w+i)%len(offices)]))
				if !assert.NoError(t, err) || !assert.True(t, ok) {
					return
				}
				if i%5 == 0 {
					c, err = s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: u.ID, Mode: inspector.ModeField})
					if !assert.NoError(t, err) {
						return
					}
				}
				mu.Lock()
				created = append(created, c)
				mu.Unlock()
			}
		}()
	}
	// Readers run alongside the writers.
	stop := make(chan struct{})
	var rg stdsync.WaitGroup
	for range 2 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, err := s.ListComplaints(ComplaintFilter{Limit: 10, Query: "کارمند"})
				assert.NoError(t, err)
				_, err = s.Changes(0, 50)
				assert.NoError(t, err)
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	require.Len(t, created, workers*each)

	changes := allChanges(t, s)
	requireSeqsContiguous(t, changes)
	assigns := workers * ((each + 4) / 5)
	assert.Equal(t, base+uint64(workers*each+assigns), lastSeq(t, s))

	numbers := map[uint64]bool{}
	ids := map[string]bool{}
	for _, c := range created {
		assert.False(t, numbers[c.Number], "number %d given twice", c.Number)
		numbers[c.Number] = true
		assert.False(t, ids[c.ID], "id %s given twice", c.ID)
		ids[c.ID] = true
		requireVersionIsLastChange(t, s, c)
	}
	for n := uint64(1); n <= workers*each; n++ {
		assert.True(t, numbers[n], "number %d missing: numbers have gaps", n)
	}

	// Ids sort in creation order, so newest-first listing is by number.
	items, _, err := s.ListComplaints(ComplaintFilter{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, items, workers*each)
	for i := 1; i < len(items); i++ {
		assert.Greater(t, items[i-1].Number, items[i].Number)
	}
}

// The same call entered at once from several consoles is one complaint.
func TestConcurrentIdempotentIntake(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	base := lastSeq(t, s)

	const callers = 8
	results := make([]inspector.Complaint, callers)
	createdBy := make([]bool, callers)
	var wg stdsync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, created, err := s.CreateComplaint(Actor{UserID: fmt.Sprintf("dispatcher-%d", i)}, intake("CALL-SAME", "QZ-SSO-01"))
			assert.NoError(t, err)
			results[i], createdBy[i] = c, created
		}()
	}
	wg.Wait()

	n := 0
	for i := range callers {
		if createdBy[i] {
			n++
		}
		assert.Equal(t, results[0].ID, results[i].ID)
		assert.Equal(t, results[0].Version, results[i].Version)
	}
	assert.Equal(t, 1, n, "exactly one caller created it")
	assert.Equal(t, base+1, lastSeq(t, s))
}
