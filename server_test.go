package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	_ "github.com/lib/pq"
)

// syncBuffer collects the service's log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustRunMain starts the real service on a free port and returns its base URL.
func mustRunMain(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	if _, ok := env["DATA_DIR"]; !ok {
		env["DATA_DIR"] = t.TempDir()
	}
	env["ADDR"] = "127.0.0.1:0"
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		return "http://" + addr, logs
	case err := <-done:
		cancel()
		t.Fatalf("service did not start: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("service did not start in time\n%s", logs)
	}
	return "", nil
}

func postJSON(t *testing.T, url, token string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered %d with non-JSON %q", url, resp.StatusCode, raw)
	}
	return out
}

// smsInbox is an SMS webhook receiver.
type smsInbox struct {
	mu    sync.Mutex
	codes map[string]string
}

func newInbox(t *testing.T) (*smsInbox, string) {
	in := &smsInbox{codes: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Telephone, Code, Purpose string }
		_ = json.NewDecoder(r.Body).Decode(&m)
		in.mu.Lock()
		if m.Purpose == "code" {
			in.codes[m.Telephone] = m.Code
		}
		in.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return in, srv.URL + "/sms"
}

func (in *smsInbox) code(t *testing.T, phone string) string {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.codes[phone]
	if !ok {
		t.Fatalf("no code for %s", phone)
	}
	return c
}

func TestServiceStartsOnEmbeddedDefaults(t *testing.T) {
	base, _ := mustRunMain(t, map[string]string{"CAPTCHA_TEST_CODE": "4821"})
	for _, path := range []string{"/healthz", "/readyz", "/playground"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	out := postJSON(t, base+"/user/dealer/sendGraphCode", "", map[string]any{"deviceId": "d1"})
	pic, _ := out["data"].(map[string]any)["picUrl"].(string)
	if out["errCode"] != "200" || !strings.HasPrefix(pic, base+"/captcha/") {
		t.Fatalf("sendGraphCode = %v", out)
	}
	resp, err := http.Get(pic)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Fatalf("captcha image: %s", resp.Header.Get("Content-Type"))
	}
	gql := postJSON(t, base+"/graphql", "", map[string]any{"query": "{ me { id } }"})
	errs, _ := gql["errors"].([]any)
	if len(errs) == 0 || errs[0].(map[string]any)["extensions"].(map[string]any)["code"] != "UNAUTHENTICATED" {
		t.Fatalf("anonymous me = %v", gql)
	}
}

func TestProductionRefusesUnsafeSettings(t *testing.T) {
	safe := map[string]string{
		"APP_ENV":         "production",
		"SECRET_KEY":      strings.Repeat("s", 40),
		"PII_KEY":         "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"SMS_PROVIDER":    "webhook",
		"SMS_WEBHOOK_URL": "http://127.0.0.1:1/sms",
	}
	if _, err := loadConfig(func(k string) string { return safe[k] }); err != nil {
		t.Fatalf("safe production settings refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"without PII_KEY", map[string]string{"PII_KEY": ""}, "PII_KEY"},
		{"without SECRET_KEY", map[string]string{"SECRET_KEY": ""}, "SECRET_KEY"},
		{"with a captcha test code", map[string]string{"CAPTCHA_TEST_CODE": "1234"}, "CAPTCHA_TEST_CODE"},
		{"with the log SMS driver", map[string]string{"SMS_PROVIDER": "log"}, "SMS_PROVIDER=log"},
		{"with test OTPs that never expire", map[string]string{"SMS_TEST_OTP": "13800138000:123456"}, "SMS_TEST_OTP_VALID_UNTIL"},
		{"with a default admin password", map[string]string{"ADMIN_PHONE": "13900000000", "ADMIN_PASSWORD": "admin123"}, "ADMIN_PASSWORD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range safe {
				env[k] = v
			}
			for k, v := range tc.change {
				env[k] = v
			}
			_, err := loadConfig(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %s", err, tc.want)
			}
		})
	}
}

func TestProductionLogsHoldNoSecrets(t *testing.T) {
	inbox, hook := newInbox(t)
	base, logs := mustRunMain(t, map[string]string{
		"APP_ENV":         "production",
		"SECRET_KEY":      strings.Repeat("k", 40),
		"PII_KEY":         "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"SMS_PROVIDER":    "webhook",
		"SMS_WEBHOOK_URL": hook,
		"ADMIN_PHONE":     "13900000000",
		"ADMIN_PASSWORD":  "Very-Secret-Admin-Pw",
		"REST_AUTH":       "token",
	})
	const phone, password = "13812340000", "Unique-Dealer-Passphrase"
	postJSON(t, base+"/user/proxy/sendPhoneNum", "", map[string]any{"openId": "wx-log", "telephone": phone})
	code := inbox.code(t, phone)
	v := postJSON(t, base+"/user/proxy/verifyPhoneNum", "", map[string]any{"openId": "wx-log", "telephone": phone, "phoneNum": code})
	token, _ := v["data"].(map[string]any)["token"].(string)
	if token == "" {
		t.Fatalf("verify = %v", v)
	}
	postJSON(t, base+"/user/proxy/verifyPhoneNum", "", map[string]any{"openId": "wx-log", "telephone": phone, "phoneNum": "000000"})
	postJSON(t, base+"/user/dealer/login", "", map[string]any{"telephone": "13900000000", "password": "Very-Secret-Admin-Pw"})
	postJSON(t, base+"/user/dealer/login", "", map[string]any{"telephone": phone, "password": password})
	postJSON(t, base+"/user/proxy/submitPUser", token, map[string]any{"telephone": phone, "realName": "李四", "idNo": "11010519491231002X", "frontImg": "x", "qualification": "y"})

	out := logs.String()
	if out == "" {
		t.Fatal("no logs captured")
	}
	for _, secret := range []string{code, token, password, "Very-Secret-Admin-Pw", "11010519491231002X", phone} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log contains %q:\n%s", secret, out)
		}
	}
}

// TestTwoReplicasShareState runs two instances on one Postgres and one
// Redis: a code sent through one is verified through the other, and a
// session issued by one is accepted by the other.
func TestTwoReplicasShareState(t *testing.T) {
	admin, redisURL := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_REDIS_URL")
	if admin == "" || redisURL == "" {
		t.Skip("needs TEST_DATABASE_URL and TEST_REDIS_URL")
	}
	dbURL := freshDatabase(t, admin)
	inbox, hook := newInbox(t)
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL":    dbURL,
			"REDIS_URL":       redisURL,
			"SMS_PROVIDER":    "webhook",
			"SMS_WEBHOOK_URL": hook,
			"SECRET_KEY":      strings.Repeat("r", 40),
		}
	}
	a, _ := mustRunMain(t, env())
	b, _ := mustRunMain(t, env())
	phone := fmt.Sprintf("137%08d", time.Now().UnixNano()%1e8)
	if r := postJSON(t, a+"/user/custom/sendPhoneNum", "", map[string]any{"openId": "wx-2r", "telephone": phone}); r["errCode"] != "200" {
		t.Fatalf("send via A = %v", r)
	}
	v := postJSON(t, b+"/user/custom/verifyPhoneNum", "", map[string]any{"openId": "wx-2r", "telephone": phone, "phoneNum": inbox.code(t, phone)})
	token, _ := v["data"].(map[string]any)["token"].(string)
	if v["errCode"] != "200" || token == "" {
		t.Fatalf("verify via B = %v", v)
	}
	me := postJSON(t, a+"/graphql", token, map[string]any{"query": "{ me { telephone } }"})
	if got := me["data"].(map[string]any)["me"].(map[string]any)["telephone"]; got != phone {
		t.Fatalf("me via A = %v", me)
	}
	if r := postJSON(t, b+"/user/custom/sendPhoneNum", "", map[string]any{"openId": "wx-2r", "telephone": phone}); r["errCode"] != "2029" {
		t.Fatalf("the cool-down is not shared: %v", r)
	}
}

func freshDatabase(t *testing.T, adminURL string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "idmain_" + hex.EncodeToString(b)
	db, err := sql.Open("postgres", adminURL)
	if err == nil {
		_, err = db.Exec("CREATE DATABASE " + name)
	}
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	u, _ := url.Parse(adminURL)
	u.Path = "/" + name
	return u.String()
}

func TestUploadsGoToCloudStorage(t *testing.T) {
	gcsSrv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1",
		InitialObjects: []fakestorage.Object{{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "uploads-test", Name: "keep"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcsSrv.Stop)
	host := strings.TrimPrefix(gcsSrv.URL(), "http://")
	t.Setenv("STORAGE_EMULATOR_HOST", host) // read by the client library itself
	base, _ := mustRunMain(t, map[string]string{
		"STORAGE_URL":           "gs://uploads-test/svc",
		"STORAGE_EMULATOR_HOST": host,
		"REST_AUTH":             "legacy",
	})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile("file", "a.png")
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	_ = png.Encode(fw, img)
	_ = w.Close()
	resp, err := http.Post(base+"/user/dealer/uploadFavicon", w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ErrCode string
		Data    struct{ Favicon string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out.ErrCode != "200" || !strings.Contains(out.Data.Favicon, "/uploads-test/svc/public/avatars/") {
		t.Fatalf("upload = %+v", out)
	}
	objs, _, err := gcsSrv.ListObjectsWithOptions("uploads-test", fakestorage.ListOptions{Prefix: "svc/public/avatars/"})
	if err != nil || len(objs) != 1 || objs[0].ContentType != "image/png" {
		t.Fatalf("objects in the bucket: %v, %v", objs, err)
	}
}
