package server

import "context"

// HoldPasswordChecks takes every password-check slot, as a crowd of
// sign-ins would, until release is called.
func HoldPasswordChecks(s *Server) (release func()) {
	n := cap(s.passwords.slots)
	for range n {
		s.passwords.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.passwords.slots
		}
	}
}

// HoldPushes takes the push gate's whole room, as a crowd of pushes would;
// release gives it back.
func HoldPushes(s *Server) (release func()) {
	if err := s.pushes.slots.Acquire(context.Background(), s.pushes.capacity); err != nil {
		panic(err)
	}
	return func() { s.pushes.slots.Release(s.pushes.capacity) }
}
