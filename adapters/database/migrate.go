package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"

	"github.com/carcity/identity/ent/migrate/migrations"
)

// migrationLockID is the key of the Postgres advisory lock serialising
// migrations ("identity" in ASCII). Advisory locks are per database, so other
// databases on the same server do not contend for it.
const migrationLockID int64 = 0x6964656e74697479

// revisionsTable records applied migration files. Name and columns follow
// the Atlas CLI's own revisions table.
const revisionsTable = "atlas_schema_revisions"

const createRevisionsTable = `CREATE TABLE IF NOT EXISTS ` + revisionsTable + ` (
	version character varying NOT NULL PRIMARY KEY,
	description character varying NOT NULL,
	type bigint NOT NULL DEFAULT 2,
	applied bigint NOT NULL DEFAULT 0,
	total bigint NOT NULL DEFAULT 0,
	executed_at timestamptz NOT NULL,
	execution_time bigint NOT NULL,
	error text NULL,
	error_stmt text NULL,
	hash character varying NOT NULL,
	partial_hashes jsonb NULL,
	operator_version character varying NOT NULL
)`

// A database whose tables were created before versioned migrations (by the
// former auto migration) is refused, as the files would re-create them. Once
// its schema is checked to match the files up to version V (e.g. with the
// drift test's comparison), record V as a baseline and restart:
//
//	INSERT INTO atlas_schema_revisions (version, description, type, executed_at,
//		execution_time, hash, operator_version) VALUES ('V', 'baseline', 1, now(), 0, '', '');

// migratePostgres applies the pending migration files. Replicas starting
// together queue on an advisory lock held by one dedicated connection; the
// first applies the files, the others then find nothing pending.
func (db *DB) migratePostgres(ctx context.Context) error {
	dir, err := migrationsDir()
	if err != nil {
		return err
	}
	return db.applyDir(ctx, dir)
}

func (db *DB) applyDir(ctx context.Context, dir atlasmigrate.Dir) (err error) {
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	defer func() {
		// Never hand the connection back to the pool: should the unlock
		// below fail (or a cancelled lock request have succeeded after
		// all), closing the session is what releases the lock.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("migrating schema: taking the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", migrationLockID); uerr != nil && err == nil {
			err = fmt.Errorf("migrating schema: releasing the migration lock: %w", uerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, createRevisionsTable); err != nil {
		return fmt.Errorf("migrating schema: creating %s: %w", revisionsTable, err)
	}
	var schemaName string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schemaName); err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	for {
		done, err := applyNext(ctx, conn, dir, schemaName)
		if err != nil {
			return fmt.Errorf("migrating schema: %w", err)
		}
		if done {
			return nil
		}
	}
}

// applyNext applies the next pending file and its revision record in one
// transaction (Postgres DDL is transactional), so a failed file leaves
// nothing half done and is simply retried at the next start. done reports
// that nothing was pending.
func applyNext(ctx context.Context, conn *sql.Conn, dir atlasmigrate.Dir, schemaName string) (done bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	drv, err := postgres.Open(tx)
	if err != nil {
		return false, err
	}
	ex, err := atlasmigrate.NewExecutor(drv, dir, &revisions{q: tx, schema: schemaName})
	if err != nil {
		return false, err
	}
	switch err := ex.ExecuteN(ctx, 1); {
	case errors.Is(err, atlasmigrate.ErrNoPendingFiles):
		return true, nil
	case err != nil:
		// After a failed statement the transaction is aborted, so Atlas'
		// attempt to record the failure fails too: report the statement.
		var se *atlasmigrate.StmtExecError
		if errors.As(err, &se) {
			return false, se
		}
		var nc *atlasmigrate.NotCleanError
		if errors.As(err, &nc) {
			return false, fmt.Errorf("%w (tables but no migration history, e.g. from the former auto migration: see baselining in adapters/database/migrate.go)", err)
		}
		return false, err
	}
	return false, tx.Commit()
}

// migrationsDir reads the embedded migration files into an Atlas directory.
func migrationsDir() (atlasmigrate.Dir, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	dir := &atlasmigrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migrations: %w", err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// revisions is Atlas' revision store on the revisions table. It works inside
// the migration's transaction, so a file and its record commit together.
type revisions struct {
	q      execQuerier
	schema string
}

var _ atlasmigrate.RevisionReadWriter = (*revisions)(nil)

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash, partial_hashes, operator_version`

// Ident names the table, which Atlas then ignores when it checks that a
// database without revisions is empty.
func (r *revisions) Ident() *atlasmigrate.TableIdent {
	return &atlasmigrate.TableIdent{Name: revisionsTable, Schema: r.schema}
}

func (r *revisions) ReadRevisions(ctx context.Context) ([]*atlasmigrate.Revision, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionsTable+` ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []*atlasmigrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	return revs, rows.Err()
}

func (r *revisions) ReadRevision(ctx context.Context, version string) (*atlasmigrate.Revision, error) {
	rev, err := scanRevision(r.q.QueryRowContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionsTable+` WHERE version = $1`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, atlasmigrate.ErrRevisionNotExist
	}
	return rev, err
}

func (r *revisions) WriteRevision(ctx context.Context, rev *atlasmigrate.Revision) error {
	// Sent as text: lib/pq would encode a []byte as bytea, not JSON.
	var partial sql.NullString
	if len(rev.PartialHashes) > 0 {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return err
		}
		partial = sql.NullString{String: string(b), Valid: true}
	}
	_, err := r.q.ExecContext(ctx, `INSERT INTO `+revisionsTable+` (`+revisionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (version) DO UPDATE SET
			description = EXCLUDED.description, type = EXCLUDED.type,
			applied = EXCLUDED.applied, total = EXCLUDED.total,
			executed_at = EXCLUDED.executed_at, execution_time = EXCLUDED.execution_time,
			error = EXCLUDED.error, error_stmt = EXCLUDED.error_stmt, hash = EXCLUDED.hash,
			partial_hashes = EXCLUDED.partial_hashes, operator_version = EXCLUDED.operator_version`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total,
		rev.ExecutedAt, int64(rev.ExecutionTime), nullString(rev.Error), nullString(rev.ErrorStmt),
		rev.Hash, partial, rev.OperatorVersion)
	return err
}

func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	_, err := r.q.ExecContext(ctx, `DELETE FROM `+revisionsTable+` WHERE version = $1`, version)
	return err
}

func scanRevision(row interface{ Scan(...any) error }) (*atlasmigrate.Revision, error) {
	var (
		rev              atlasmigrate.Revision
		typ, execTime    int64
		errText, errStmt sql.NullString
		partial          []byte
	)
	if err := row.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total,
		&rev.ExecutedAt, &execTime, &errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
		return nil, err
	}
	rev.Type = atlasmigrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execTime)
	rev.Error, rev.ErrorStmt = errText.String, errStmt.String
	if len(partial) > 0 {
		if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
			return nil, fmt.Errorf("revision %s: partial hashes: %w", rev.Version, err)
		}
	}
	return &rev, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
