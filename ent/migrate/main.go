//go:build ignore

// Command main writes the next versioned Postgres migration for the ent
// schema into ent/migrate/migrations (a <version>_<name>.sql file plus the
// updated atlas.sum). After changing ent/schema and regenerating ent, run from
// the module root:
//
//	psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS identity_dev' -c 'CREATE DATABASE identity_dev'
//	DEV_DATABASE_URL='postgres://postgres@127.0.0.1:5432/identity_dev?sslmode=disable' \
//		go run -mod=mod ./ent/migrate/main.go <name>
//
// DEV_DATABASE_URL must point at an empty scratch database: the existing
// files are replayed there to compute the current state, and its tables are
// dropped afterwards. Never point it at a real database. Review the new file
// and commit it together with atlas.sum; adapters/database's drift test fails
// until the files match the ent schema.
package main

import (
	"context"
	"errors"
	"log"
	"os"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"

	"github.com/carcity/identity/ent/migrate"
)

const dir = "ent/migrate/migrations"

func main() {
	if len(os.Args) != 2 {
		log.Fatalln("usage: go run -mod=mod ./ent/migrate/main.go <name>")
	}
	devURL := os.Getenv("DEV_DATABASE_URL")
	if devURL == "" {
		log.Fatalln("DEV_DATABASE_URL is not set (an empty scratch Postgres database)")
	}
	d, err := atlasmigrate.NewLocalDir(dir)
	if err != nil {
		log.Fatalf("opening %s (run from the module root): %v", dir, err)
	}
	// No schema.WithGlobalUniqueID: ent v0.14's FeatureGlobalID puts each
	// table's id range in the generated schema (IncrementStart), so the files
	// carry it as the identity column's START WITH; the option is the old
	// ent_types table scheme and ent refuses to combine the two.
	err = migrate.NamedDiff(context.Background(), devURL, os.Args[1], append(options(d), schema.WithErrNoPlan(true))...)
	switch {
	case errors.Is(err, atlasmigrate.ErrNoPlan):
		log.Println("no schema changes: nothing written")
	case err != nil:
		log.Fatalf("generating migration: %v", err)
	}
}

// options must stay equal to those of adapters/database's drift test, so the
// test sees exactly what this command would generate.
func options(d atlasmigrate.Dir) []schema.MigrateOption {
	return []schema.MigrateOption{
		schema.WithDir(d),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		// Removed fields and indexes become DROPs too; otherwise a dropped
		// NOT NULL column would stay behind and break inserts.
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	}
}
