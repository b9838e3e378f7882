package server

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
