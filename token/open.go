package token

import "fmt"

// Ref names a token: by serial, else by label; both empty means the only
// one plugged in. hsm-style callers that know the label only may fill
// both with it: the serial is tried first.
type Ref struct {
	Serial, Label string
}

func (m *Module) find(ref Ref) (Token, error) {
	if ref.Serial == "" || ref.Label == "" {
		return m.Find(ref.Serial, ref.Label)
	}
	if t, err := m.Find(ref.Serial, ""); err == nil {
		return t, nil
	}
	return m.Find("", ref.Label)
}

// OpenLoggedIn finds the token ref, opens a session on it and logs in with
// pin (Login's finalTry rule applies). pin is cleared on every path, the
// ones that fail before Login included; on an error nothing is left open.
// Errors name the step that failed ("find UKEY: …").
func (m *Module) OpenLoggedIn(ref Ref, pin []byte, finalTry bool) (*Session, error) {
	defer clear(pin)
	t, err := m.find(ref)
	if err != nil {
		return nil, fmt.Errorf("find UKEY: %w", err)
	}
	s, err := m.Open(t)
	if err != nil {
		return nil, err
	}
	if err := s.Login(pin, finalTry); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenLoggedIn loads the module at path and opens a logged-in session on
// token ref (see Module.OpenLoggedIn); done ends the session and unloads
// the module. pin is cleared on every path, a module that does not load
// included.
func OpenLoggedIn(path string, ref Ref, pin []byte, finalTry bool) (s *Session, done func(), err error) {
	m, err := Load(path)
	if err != nil {
		clear(pin)
		return nil, nil, err
	}
	s, err = m.OpenLoggedIn(ref, pin, finalTry)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); m.Close() }, nil
}
