// Command identity is the identity service of the car marketplace: GraphQL
// at /graphql, the legacy REST paths under /user/, on SQLite and in-process
// stores by default, or on Postgres, Redis and GCS by configuration.
//
//	go run .           start the service
//	go run . migrate   apply database migrations and exit
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/storage"
	"github.com/99designs/gqlgen/graphql/playground"
	"google.golang.org/api/option"

	"github.com/carcity/identity/adapters/database"
	"github.com/carcity/identity/adapters/gcs"
	"github.com/carcity/identity/adapters/localfs"
	"github.com/carcity/identity/adapters/memory"
	"github.com/carcity/identity/adapters/redis"
	"github.com/carcity/identity/adapters/sms"
	"github.com/carcity/identity/adapters/wechat"
	"github.com/carcity/identity/graph"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/rest"
	"github.com/carcity/identity/web"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		os.Exit(1)
	}
}

// tuneGC collects less often than Go's default: the live heap stays small
// (tens of MiB) while request garbage is plentiful, and under load the
// default target spends a noticeable share of the CPU in the collector
// (bench: otp flows +15%). A memory limit keeps the heap bounded. GOGC and
// GOMEMLIMIT in the environment still win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}

// run starts the service and blocks until ctx ends. ready, if not nil,
// receives the listening address once the service accepts requests.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(logOut, cfg.Production)
	if len(args) > 0 {
		if args[0] != "migrate" {
			return fmt.Errorf("unknown command %q (want: migrate)", args[0])
		}
		return migrate(ctx, cfg, log)
	}
	app, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.DebugAddr != "" {
		go func() { errc <- serveDebug(ctx, cfg.DebugAddr, log) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "production", cfg.Production)
	// Start-up (migrations, schema loading) leaves garbage behind; give it
	// back before idling.
	debug.FreeOSMemory()
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func newLogger(w io.Writer, production bool) *slog.Logger {
	if production {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// app is the wired service.
type app struct {
	handler http.Handler
	closers []func() error
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// build picks the adapters from the configuration (the only place that
// does) and assembles the HTTP handler.
func build(ctx context.Context, cfg *config, log *slog.Logger) (a *app, err error) {
	a = &app{}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	db, err := openDatabase(ctx, cfg) // also creates DATA_DIR
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, db.Close)
	pingers := map[string]identity.Pinger{"database": db}
	log.Info("database", "dialect", db.Dialect)

	if cfg.Secret == nil {
		if cfg.Secret, err = developmentSecret(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	vault, err := cfg.vault()
	if err != nil {
		return nil, err
	}

	var (
		codes identity.CodeStore
		cache identity.Cache
	)
	if cfg.RedisURL == "" {
		mem := memory.New(nil)
		codes, cache = mem, mem
		log.Info("short-lived state in process (set REDIS_URL to share it between replicas)")
	} else {
		client, err := redis.Open(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { client.Close(); return nil })
		store := redis.New(client, "idsvc:")
		codes, cache = store, store
		pingers["redis"] = store
		log.Info("short-lived state in redis")
	}

	var blobs identity.BlobStore
	var files http.Handler
	if cfg.StorageURL == "" {
		local, err := localfs.New(cfg.DataDir+"/uploads", derive(cfg.Secret, "file-urls"))
		if err != nil {
			return nil, err
		}
		blobs, files = local, local.Handler(time.Now)
		pingers["storage"] = local
		log.Info("uploads on local disk", "dir", cfg.DataDir+"/uploads")
	} else {
		bucket, prefix, err := gcs.ParseURL(cfg.StorageURL)
		if err != nil {
			return nil, err
		}
		var opts []option.ClientOption
		var gcsOpts gcs.Options
		if host := cfg.StorageEmulatorHost; host != "" {
			// The emulator checks neither credentials nor signatures: sign
			// with a throwaway key, point URLs at it.
			opts = append(opts, option.WithoutAuthentication())
			if gcsOpts, err = emulatorSigning(host); err != nil {
				return nil, err
			}
		}
		client, err := storage.NewClient(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("connecting to cloud storage: %w", err)
		}
		a.closers = append(a.closers, client.Close)
		store := gcs.New(client, bucket, prefix, gcsOpts)
		blobs = store
		pingers["storage"] = store
		log.Info("uploads in cloud storage", "bucket", bucket)
	}

	sender, err := newSMSSender(cfg, log)
	if err != nil {
		return nil, err
	}
	var weChat identity.WeChat
	if p := cfg.Providers; p.WeChatAppID != "" {
		client := wechat.New(wechat.Config{AppID: p.WeChatAppID, Secret: p.WeChatSecret, BaseURL: p.WeChatBaseURL}, cache, &http.Client{Timeout: 5 * time.Second})
		client.Logger = log
		weChat = client
		log.Info("wechat login enabled: client-sent openIds are accepted only with REST_AUTH=legacy")
	}

	svc, err := identity.New(identity.Deps{
		DB:     db.Client,
		Codes:  codes,
		Cache:  cache,
		Blobs:  blobs,
		SMS:    sender,
		Vault:  vault,
		WeChat: weChat,
		Secret: cfg.Secret,
		Logger: log,
	}, identity.Config{
		SendPerIP:         cfg.SendPerIP,
		CaptchaTestCode:   cfg.CaptchaTestCode,
		TestOTP:           cfg.TestOTP,
		TestOTPValidUntil: cfg.TestOTPValidUntil,
		SessionTTL:        cfg.SessionTTL,
		SessionIdle:       cfg.SessionIdle,
		SessionCacheTTL:   cfg.SessionCache,
		MaxUploadBytes:    cfg.MaxUploadBytes,
		PublicURL:         cfg.PublicURL,
	})
	if err != nil {
		return nil, err
	}
	if cfg.AdminPhone != "" {
		if err := svc.EnsureAdmin(ctx, cfg.AdminPhone, cfg.AdminPassword); err != nil {
			return nil, fmt.Errorf("ensuring admin: %w", err)
		}
		log.Info("admin account ensured", "phone", identity.MaskPhone(cfg.AdminPhone))
	}

	mux := http.NewServeMux()
	multipartLimit := cfg.MaxUploadBytes + 1<<20 // the image and the other parts
	gql := graph.NewHandler(svc, graph.Options{
		MaxUploadBytes: multipartLimit,
		Introspection:  cfg.Playground,
		Logger:         log,
	})
	mux.Handle("/graphql", limitBody(multipartLimit, gql))
	if cfg.Playground {
		mux.Handle("GET /playground", playground.Handler("汽车城 identity", "/graphql"))
	}
	healthz, readyz := web.Health(pingers)
	mux.Handle("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz)
	mux.Handle("GET /captcha/", web.CaptchaImage(svc))
	if files != nil {
		mux.Handle("/files/", files)
	}
	mux.Handle("/user/", rest.New(svc, rest.Options{
		Legacy:         cfg.RESTAuth == "legacy",
		NumericErrCode: cfg.RESTErrCodeNumber,
		MaxUploadBytes: cfg.MaxUploadBytes,
		Logger:         log,
	}))

	caller := web.Caller{Service: svc, TrustedProxies: cfg.TrustedProxies}
	a.handler = web.Recover(log, web.SecurityHeaders(web.CORS(cfg.CORSOrigins, caller.Wrap(mux))))
	return a, nil
}

// openDatabase opens the configured database and brings its schema up to
// date (under an advisory lock on Postgres, so replicas can start together).
func openDatabase(ctx context.Context, cfg *config) (*database.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating DATA_DIR: %w", err)
	}
	db, err := database.Open(cfg.DatabaseURL, cfg.DataDir, database.Options{MaxOpenConns: cfg.DBMaxConns})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migrate is `identity migrate`: the database only, for operators who
// migrate before deploying.
func migrate(ctx context.Context, cfg *config, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "dialect", db.Dialect)
	return db.Close()
}

// limitBody bounds request bodies: JSON bodies to 1 MiB, multipart
// uploads to maxUpload.
func limitBody(maxUpload int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(1 << 20)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			limit = maxUpload
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func newSMSSender(cfg *config, log *slog.Logger) (identity.SMSSender, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	switch cfg.SMSProvider {
	case "webhook":
		return sms.NewWebhook(cfg.SMSWebhookURL, nil), nil // its own pooled client
	case "aliyun":
		p := cfg.Providers
		sender := sms.NewAliyun(sms.AliyunConfig{
			AccessKeyID:        p.AliyunAccessKeyID,
			AccessKeySecret:    p.AliyunAccessKeySecret,
			SignName:           p.AliyunSignName,
			TemplateCode:       p.AliyunTemplateCode,
			NoticeTemplateCode: p.AliyunNoticeTemplateCode,
		}, client)
		sender.Logger = log
		return sender, nil
	case "tencent":
		p := cfg.Providers
		sender := sms.NewTencent(sms.TencentConfig{
			SecretID:         p.TencentSecretID,
			SecretKey:        p.TencentSecretKey,
			SDKAppID:         p.TencentSDKAppID,
			SignName:         p.TencentSignName,
			TemplateID:       p.TencentTemplateID,
			NoticeTemplateID: p.TencentNoticeTemplateID,
			Region:           p.TencentRegion,
		}, client)
		sender.Logger = log
		return sender, nil
	}
	log.Warn("SMS_PROVIDER=log writes codes to this log: development only")
	return sms.Log{Logger: log}, nil
}

// serveDebug serves net/http/pprof on its own listener (DEBUG_ADDR).
func serveDebug(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("debug listener (pprof)", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// emulatorSigning signs URLs for a GCS emulator with an ephemeral key.
func emulatorSigning(host string) (gcs.Options, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return gcs.Options{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return gcs.Options{}, err
	}
	return gcs.Options{
		PublicBaseURL:  "http://" + host,
		GoogleAccessID: "emulator@localhost",
		PrivateKey:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		Hostname:       host,
		Insecure:       true,
	}, nil
}
