package service

import (
	"context"
	"fmt"

	"certdesk/app/apply"
	"certdesk/app/server/store"
)

// The staff audit log: every staff action, who, when, from where, in the
// action's own transaction, chained by hash (store.StaffAction).

type addrKey struct{}

// WithClientAddr records where a request came from, for the audit log.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addrKey{}, addr)
}

func clientAddr(ctx context.Context) string {
	if a, ok := ctx.Value(addrKey{}).(string); ok && a != "" {
		return a
	}
	return "local" // the command line on the server's machine
}

func (s *Service) logStaff(ctx context.Context, tx *store.Tx, actor, action, target, detail string) error {
	return tx.AppendStaffAction(ctx, &store.StaffAction{At: s.now(), Actor: actor, Addr: clientAddr(ctx), Action: action, Target: target, Detail: detail})
}

// LogStaff records a staff action taken outside the service's own calls
// (the command line's user changes).
func (s *Service) LogStaff(ctx context.Context, p Principal, action, target, detail string) error {
	return s.st.InTx(ctx, func(tx *store.Tx) error { return s.logStaff(ctx, tx, p.AccountID, action, target, detail) })
}

// AuditProblem is where the chain breaks.
type AuditProblem struct {
	Seq    int64
	Reason string
}

func (p *AuditProblem) Error() string { return fmt.Sprintf("audit entry %d: %s", p.Seq, p.Reason) }

// VerifyAudit walks the staff audit log: numbers in order from 1, each row
// chained to the one before and matching its own hash, the head at the
// last row. It returns how many rows it checked, and an *AuditProblem at
// the first break.
func (s *Service) VerifyAudit(ctx context.Context) (int64, error) {
	var n int64
	prev := ""
	headSeq, headHash, err := s.st.StaffActions(ctx, func(a *store.StaffAction) error {
		n++
		switch {
		case a.Seq != n:
			return &AuditProblem{a.Seq, fmt.Sprintf("expected entry %d here: an entry was removed or inserted", n)}
		case a.PrevHash != prev:
			return &AuditProblem{a.Seq, "not chained to the entry before it"}
		case a.Sum() != a.Hash:
			return &AuditProblem{a.Seq, "its content does not match its hash: it was changed"}
		}
		prev = a.Hash
		return nil
	})
	if err != nil {
		return n, err
	}
	if headSeq != n || headHash != prev {
		return n, &AuditProblem{headSeq, fmt.Sprintf("the log ends at entry %d but its head says %d: entries were cut off", n, headSeq)}
	}
	return n, nil
}

// staffNote is what a transition's audit row says.
func staffNote(a *store.Application, ev apply.Event, note string) string {
	if note == "" {
		return fmt.Sprintf("%s → %s", ev, a.State)
	}
	return fmt.Sprintf("%s → %s: %s", ev, a.State, note)
}
