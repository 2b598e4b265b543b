// Package store is the enrollment server's database: one Store over two
// real engines, SQLite (modernc.org/sqlite, no cgo) in the data directory
// and PostgreSQL (pgx) for a CA that outgrows one machine. The schema is
// one set of goose migrations written in the SQL both engines accept.
// Every state change and its history and outbox rows commit in one
// transaction (see InTx).
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine names the database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value is taken; see ConflictError.Column.
	ErrConflict = errors.New("already exists")
	// ErrStale: the row changed since it was read (optimistic lock); InTx
	// retries the whole transaction on it.
	ErrStale = errors.New("changed concurrently")
)

// ConflictError names the column whose unique value is taken.
type ConflictError struct{ Column string }

func (e *ConflictError) Error() string { return e.Column + " already exists" }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Store is the database.
type Store struct {
	db     *sql.DB
	engine Engine
	// writeMu serialises this process's SQLite transactions. SQLite has one
	// writer at a time anyway; without the mutex, concurrent BEGIN
	// IMMEDIATEs lose to each other and SQLite's busy handler sleeps
	// milliseconds at a time (measured: 379 creates/s with 16 clients).
	// Readers do not take it: WAL lets them run beside the writer.
	writeMu sync.Mutex
	// w is the SQLite connection every transaction runs on (under
	// writeMu). One writer connection keeps its page cache: SQLite in WAL
	// mode drops a connection's whole cache when another connection has
	// written since its last transaction, so with writes spread over the
	// pool nearly every page a transaction touched was read and parsed again.
	w *sql.Conn
	// stmts holds SQLite's prepared statements by query text. The driver
	// parses every statement it is given; parsing was a fifth of the
	// server's CPU under load. pgx caches statements itself.
	stmts sync.Map // string → *sql.Stmt

	stop, stopped chan struct{} // the checkpoint goroutine
	closeOnce     sync.Once
}

// Open connects to dsn and applies the migrations. dsn is a PostgreSQL URL
// (postgres://…) or a SQLite file path (optionally sqlite:///path).
func Open(ctx context.Context, dsn string) (*Store, error) { return OpenWith(ctx, dsn, Options{}) }

// Options tune Open.
type Options struct {
	// NoMigrate leaves the schema alone and refuses a database whose
	// schema is behind (ErrSchemaBehind): instances of a server that share
	// one database start after `certdesk-server migrate` ran once.
	NoMigrate bool
}

// ErrSchemaBehind: migrations are pending and Options.NoMigrate is set.
var ErrSchemaBehind = errors.New("the database schema is behind this version: run certdesk-server migrate first")

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, o Options) (*Store, error) {
	var s Store
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		s.engine = Postgres
		s.db, err = sql.Open("pgx", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(32)
			s.db.SetMaxIdleConns(32)
		}
	default:
		s.engine = SQLite
		path := strings.TrimPrefix(dsn, "sqlite://")
		q := url.Values{}
		// WAL lets readers run beside the one writer; busy_timeout makes a
		// writer wait instead of failing; immediate transactions take the
		// write lock at BEGIN, so two writers never deadlock upgrading.
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "wal_autocheckpoint(0)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		s.db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err == nil {
			// As many idle as open: database/sql keeps two idle by default,
			// and every extra connection it opens under load runs the
			// pragmas and reads the schema again (measured: a tenth of the
			// server's CPU under 16 clients).
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(8)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", s.engine, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", s.engine, err)
	}
	if err := s.migrate(ctx, o.NoMigrate); err != nil {
		s.db.Close()
		return nil, err
	}
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	if s.engine == SQLite {
		if s.w, err = s.db.Conn(ctx); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("writer connection: %w", err)
		}
		go s.checkpoints(time.Second)
	} else {
		close(s.stopped)
	}
	return &s, nil
}

// checkpoints copies the WAL into the database file every interval. With
// SQLite's automatic checkpoint, the writer that crosses the WAL's
// 1000-page mark does it, syncing the database file while it holds the
// write lock, and every other request waits for the disk (measured: a
// fifth of issuance throughput). A passive checkpoint here waits for
// nobody and nobody waits for it.
func (s *Store) checkpoints(every time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

func (s *Store) migrate(ctx context.Context, checkOnly bool) error {
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if s.engine == Postgres {
		dialect = goose.DialectPostgres
		// Instances started together take turns: a session advisory lock
		// around the migrations, so each change is applied once.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, mustSub(migrations, "migrations"), opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if checkOnly {
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		if pending {
			return ErrSchemaBehind
		}
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Engine tells which database this is.
func (s *Store) Engine() Engine { return s.engine }

// Close closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.stopped
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	s.writeMu.Lock()
	if s.w != nil {
		_ = s.w.Close() // gives the connection back to the pool db.Close closes
	}
	s.writeMu.Unlock()
	return s.db.Close()
}

// Ping checks the database answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Tx is a transaction. Methods on Tx do the writes that must commit
// together.
type Tx struct {
	tx     *sql.Tx
	engine Engine
	s      *Store
}

// InTx runs fn in a transaction and commits it, retrying the whole
// transaction when a concurrent writer got there first (ErrStale, SQLite
// busy, PostgreSQL serialization failure).
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = s.inTxOnce(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(1<<attempt) * time.Millisecond)
	}
	return err
}

func (s *Store) inTxOnce(ctx context.Context, fn func(*Tx) error) error {
	if s.engine == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	var tx *sql.Tx
	var err error
	if s.w != nil {
		tx, err = s.w.BeginTx(ctx, nil)
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
			// The writer connection broke (it never has here): take
			// another rather than fail every write from now on.
			if c, cerr := s.db.Conn(ctx); cerr == nil {
				_ = s.w.Close()
				s.w = c
				tx, err = c.BeginTx(ctx, nil)
			}
		}
	} else {
		tx, err = s.db.BeginTx(ctx, nil)
	}
	if err != nil {
		return mapErr(fmt.Errorf("begin: %w", err))
	}
	if err := fn(&Tx{tx: tx, engine: s.engine, s: s}); err != nil {
		_ = tx.Rollback() // fn's error is the one that matters
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func retryable(err error) bool {
	if errors.Is(err, ErrStale) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xFF
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// mapErr turns engine errors into the sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		// "UNIQUE constraint failed: applications.username"
		col := se.Error()
		if i := strings.LastIndexByte(col, '.'); i >= 0 {
			col = col[i+1:]
		}
		if i := strings.IndexAny(col, " ,)"); i >= 0 {
			col = col[:i]
		}
		return &ConflictError{Column: col}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		// "applications_username_key"
		col := strings.TrimSuffix(strings.TrimPrefix(pe.ConstraintName, pe.TableName+"_"), "_key")
		if col == "pkey" {
			col = "id"
		}
		return &ConflictError{Column: col}
	}
	return err
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.s.prepared(ctx, q); st != nil {
		r, err := t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return r, mapErr(err)
	}
	r, err := t.tx.ExecContext(ctx, q, args...)
	return r, mapErr(err)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.s.prepared(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.s.prepared(ctx, q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// prepared returns q prepared once for the whole pool (database/sql then
// prepares it on each connection as it is used), or nil when statements
// are not cached here or q does not prepare; the caller then runs q as
// text and gets the error from there.
func (s *Store) prepared(ctx context.Context, q string) *sql.Stmt {
	if s.engine != SQLite {
		return nil
	}
	if v, ok := s.stmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	if v, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	return st
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, q, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, q, args...)
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s.engine == SQLite {
		// A write on its own is a transaction too: on the writer
		// connection, in turn, rather than a pool connection that would
		// wait in SQLite's busy handler and drop the writer's page cache.
		var r sql.Result
		err := s.inTxOnce(ctx, func(t *Tx) error {
			var err error
			r, err = t.exec(ctx, q, args...)
			return err
		})
		return r, err
	}
	if st := s.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, q, args...)
}

// NewID returns a random 128-bit identifier in lower-case base32, safe in
// URLs and file names.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
