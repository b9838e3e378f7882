package simulate

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"
)

// dispatcher enters complaints and routes them, reassigns and withdraws
// them, while the inspectors work offline.
type dispatcher struct {
	api        *api
	rng        *mrand.Rand
	inspectors []*inspector
	offices    []officeJSON
	run        string

	complaints []string
	assignee   map[string]int
	closed     map[string]bool
	reassigned int
	withdrawn  int
}

func (d *dispatcher) live(ctx context.Context, log *slog.Logger) {
	d.assignee, d.closed = map[string]int{}, map[string]bool{}
	for ctx.Err() == nil {
		var err error
		switch r := d.rng.IntN(10); {
		case r < 5 || len(d.complaints) < len(d.inspectors):
			err = d.enter(ctx)
		case r < 8:
			err = d.reassign(ctx)
		default:
			err = d.withdraw(ctx)
		}
		if err != nil && ctx.Err() == nil {
			log.Debug("dispatch", "error", err) // a refused step (say, an illegal transition) is part of the game
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(50+d.rng.IntN(200)) * time.Millisecond):
		}
	}
}

func (d *dispatcher) enter(ctx context.Context) error {
	n := len(d.complaints) + 1
	body := map[string]any{
		"call_id": fmt.Sprintf("SIM-%s-%05d", d.run, n), "category": []string{"absent_employee", "non_work_activity", "client_crowding", "other"}[d.rng.IntN(4)],
		"description": "شکایت شبیه‌سازی: کارمند در محل حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339),
		"caller": map[string]string{"name": "شهروند", "phone": "09120000000"}, "office_code": d.offices[d.rng.IntN(len(d.offices))].Code,
		"priority": []string{"urgent", "high", "normal", "low"}[d.rng.IntN(4)],
	}
	var c complaintJSON
	if err := d.api.do(ctx, "POST", "/v1/complaints", body, &c); err != nil {
		return err
	}
	d.complaints = append(d.complaints, c.ID)
	return d.assign(ctx, c.ID, d.rng.IntN(len(d.inspectors)))
}

func (d *dispatcher) assign(ctx context.Context, id string, who int) error {
	in := d.inspectors[who]
	if err := d.api.do(ctx, "POST", "/v1/complaints/"+id+"/assign", map[string]string{"inspector_id": in.id, "mode": in.mode}, nil); err != nil {
		return err
	}
	d.assignee[id] = who
	return nil
}

func (d *dispatcher) open() (string, bool) {
	for range 10 {
		id := d.complaints[d.rng.IntN(len(d.complaints))]
		if !d.closed[id] {
			return id, true
		}
	}
	return "", false
}

func (d *dispatcher) reassign(ctx context.Context) error {
	id, ok := d.open()
	if !ok || len(d.inspectors) < 2 {
		return nil
	}
	who := (d.assignee[id] + 1 + d.rng.IntN(len(d.inspectors)-1)) % len(d.inspectors)
	if err := d.assign(ctx, id, who); err != nil {
		return err
	}
	d.reassigned++
	return nil
}

func (d *dispatcher) withdraw(ctx context.Context) error {
	id, ok := d.open()
	if !ok {
		return nil
	}
	if err := d.api.do(ctx, "POST", "/v1/complaints/"+id+"/withdraw", map[string]string{"reason": "تماس تکراری (شبیه‌سازی)"}, nil); err != nil {
		return err
	}
	d.closed[id] = true
	d.withdrawn++
	return nil
}
