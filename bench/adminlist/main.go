// Command adminlist measures the admin listing `users(first: 50)` with each
// user's certification and reviews over a large seeded Postgres database:
// statements per request (counted through a driver hook) and latency.
//
//	go run ./bench/adminlist -db 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' -users 100000
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"

	"github.com/carcity/identity/adapters/database"
	"github.com/carcity/identity/adapters/localfs"
	"github.com/carcity/identity/adapters/memory"
	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/graph"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/web"
)

const query = `{ users(first: 50, orderBy: {field: CREATED_AT, direction: DESC}) {
  edges { node { id telephone kind certification { status reviews { fromStatus toStatus reason createdAt } } } } } }`

func main() {
	adminURL := flag.String("db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres URL used to create the scratch database")
	users := flag.Int("users", 100_000, "users to seed")
	n := flag.Int("n", 300, "requests to time")
	flag.Parse()
	ctx := context.Background()

	admin, err := sql.Open("postgres", *adminURL)
	must(err)
	const name = "identity_adminlist"
	_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	_, err = admin.Exec("CREATE DATABASE " + name)
	must(err)
	defer admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	u, err := url.Parse(*adminURL)
	must(err)
	u.Path = "/" + name
	db, err := database.Open(u.String(), "", database.Options{MaxOpenConns: 10})
	must(err)
	must(db.Migrate(ctx))

	start := time.Now()
	seed(ctx, db.SQL, *users)
	log.Printf("seeded %d users in %s", *users, time.Since(start).Round(time.Millisecond))

	var statements atomic.Int64
	client := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dialect.Postgres, db.SQL), func(_ context.Context, args ...any) {
		statements.Add(1)
		if os.Getenv("ADMINLIST_SQL") != "" {
			log.Println(args...)
		}
	})))
	dir, err := os.MkdirTemp("", "adminlist")
	must(err)
	defer os.RemoveAll(dir)
	files, err := localfs.New(dir, bytes.Repeat([]byte("k"), 32))
	must(err)
	vault, err := identity.NewVault("b", bytes.Repeat([]byte("v"), 32), bytes.Repeat([]byte("i"), 32))
	must(err)
	mem := memory.New(nil)
	svc, err := identity.New(identity.Deps{
		DB: client, Codes: mem, Cache: mem, Blobs: files, SMS: nopSMS{}, Vault: vault,
		Secret: bytes.Repeat([]byte("s"), 32), Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, identity.Config{})
	must(err)
	must(svc.EnsureAdmin(ctx, "13900000000", "admin benchmark passphrase"))
	auth, err := svc.Login(ctx, identity.LoginInput{Telephone: "13900000000", Password: "admin benchmark passphrase"})
	must(err)
	srv := httptest.NewServer(web.Caller{Service: svc}.Wrap(graph.NewHandler(svc, graph.Options{})))
	defer srv.Close()

	do := func() (time.Duration, int64) {
		before := statements.Load()
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+auth.Token)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		must(err)
		var out struct {
			Data struct {
				Users struct {
					Edges []struct {
						Node struct{ Certification *struct{ Status string } }
					}
				}
			}
			Errors []any
		}
		must(json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		took := time.Since(t0)
		if len(out.Errors) > 0 || len(out.Data.Users.Edges) != 50 {
			log.Fatalf("unexpected answer: %+v", out)
		}
		return took, statements.Load() - before
	}
	for range 20 {
		do() // warm up: connections, plans, session cache
	}
	if os.Getenv("ADMINLIST_SQL") != "" {
		log.Println("---- one request:")
		do()
		return
	}
	times := make([]time.Duration, *n)
	counts := map[int64]int{}
	for i := range times {
		var s int64
		times[i], s = do()
		counts[s]++
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	pct := func(p float64) time.Duration { return times[int(p*float64(len(times)-1))] }
	// The session lookup adds a statement once per SESSION_CACHE_TTL.
	fmt.Printf("users(first: 50) with certification and reviews over %d users, %d requests: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms; SQL statements per request: %v\n",
		*users, *n, ms(pct(0.5)), ms(pct(0.95)), ms(pct(0.99)), counts)
}

// seed inserts users, a certification for every fifth user (with its two
// uploads) and a review for every other certification, in bulk SQL.
func seed(ctx context.Context, db *sql.DB, users int) {
	exec := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			log.Fatalf("seeding: %v\n%s", err, q)
		}
	}
	exec(`INSERT INTO users (telephone, kind, nick_name, gender, favicon, created_at, updated_at)
		SELECT '13' || lpad(g::text, 9, '0'), CASE WHEN g % 5 = 0 THEN 'AGENT' ELSE 'CUSTOMER' END, '', 'UNKNOWN', '',
		       now() - (g || ' seconds')::interval, now()
		FROM generate_series(1, $1) g`, users)
	exec(`INSERT INTO uploads (owner_id, key, purpose, content_type, size, created_at)
		SELECT id, 'private/seed/' || id || '-' || p, p, 'image/jpeg', 1000, now()
		FROM users, unnest(ARRAY['ID_FRONT', 'QUALIFICATION']) p WHERE kind = 'AGENT'`)
	exec(`INSERT INTO certifications (user_id, real_name, id_number_cipher, id_number_key_id, id_number_hash, id_number_masked,
		       front_image_id, qualification_image_id, status, version, review_comment, submitted_at)
		SELECT u.id, '张三', '\x00'::bytea, 'b', md5(u.id::text), '110105********002X', f.id, q.id,
		       CASE WHEN u.id % 2 = 0 THEN 'APPROVED' ELSE 'UNDER_REVIEW' END, 1, '', now()
		FROM users u
		JOIN uploads f ON f.owner_id = u.id AND f.purpose = 'ID_FRONT'
		JOIN uploads q ON q.owner_id = u.id AND q.purpose = 'QUALIFICATION'`)
	exec(`INSERT INTO users (telephone, kind, nick_name, gender, favicon, created_at, updated_at)
		VALUES ('13999999999', 'ADMIN', '', 'UNKNOWN', '', now() - interval '100 years', now())`)
	exec(`INSERT INTO reviews (certification_id, reviewer_id, from_status, to_status, comment, created_at)
		SELECT c.id, (SELECT id FROM users WHERE telephone = '13999999999'), 'UNDER_REVIEW', 'APPROVED', '', now()
		FROM certifications c WHERE c.status = 'APPROVED'`)
	exec(`ANALYZE`)
}

type nopSMS struct{}

func (nopSMS) Send(context.Context, identity.SMS) (string, error) { return "", nil }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
