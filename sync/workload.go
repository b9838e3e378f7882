package sync

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// InspectorLoad is what dispatch weighs when choosing whom to route a
// complaint to: how much the inspector holds now, and where they last were.
type InspectorLoad struct {
	// Open counts the complaints assigned to the inspector that are
	// assigned or in progress now.
	Open int
	// LastCheckIn is the inspector's latest visit check-in by the device's
	// clock (deleted visits left out); nil when they have none.
	LastCheckIn *inspector.GeoStamp
}

// InspectorLoads returns every inspector's load, by user id, read in one
// transaction; an inspector with no open complaint and no check-in is
// absent. It reads every complaint and visit, which a province's store
// holds in the tens of thousands at most.
func (s *Store) InspectorLoads() (map[string]InspectorLoad, error) {
	out := map[string]InspectorLoad{}
	err := s.view(func(btx *bolt.Tx) error {
		// Only the fields needed are decoded.
		err := btx.Bucket(bucketComplaints).ForEach(func(k, v []byte) error {
			var c struct {
				Status     inspector.Status `json:"status"`
				Assignment *struct {
					InspectorID string `json:"inspector_id"`
				} `json:"assignment"`
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decode complaint %s: %w", k, err)
			}
			if c.Assignment == nil || (c.Status != inspector.StatusAssigned && c.Status != inspector.StatusInProgress) {
				return nil
			}
			l := out[c.Assignment.InspectorID]
			l.Open++
			out[c.Assignment.InspectorID] = l
			return nil
		})
		if err != nil {
			return err
		}
		return btx.Bucket(bucketVisits).ForEach(func(k, v []byte) error {
			var vis struct {
				InspectorID string              `json:"inspector_id"`
				CheckIn     *inspector.GeoStamp `json:"check_in"`
				Deleted     bool                `json:"deleted"`
			}
			if err := json.Unmarshal(v, &vis); err != nil {
				return fmt.Errorf("decode visit %s: %w", k, err)
			}
			if vis.Deleted || vis.CheckIn == nil {
				return nil
			}
			l := out[vis.InspectorID]
			if l.LastCheckIn == nil || vis.CheckIn.DeviceTime.After(l.LastCheckIn.DeviceTime) {
				l.LastCheckIn = vis.CheckIn
			}
			out[vis.InspectorID] = l
			return nil
		})
	})
	return out, err
}
