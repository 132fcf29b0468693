package sms_test

import (
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/sms"
	"github.com/carcity/identity/identity"
)

// newWebhookFake answers by telephone and counts the connections it accepts.
func newWebhookFake(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Message-Id") == "" {
			t.Errorf("request %s with headers %v", r.Method, r.Header)
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("decoding body: %v", err)
		}
		if keys := strings.Join(sortedKeys(body), ","); keys != "code,purpose,telephone" {
			t.Errorf("body fields = %s", keys)
		}
		switch body["telephone"] {
		case "13800000000":
			// A body the sender has to drain for the connection to be reused.
			_, _ = io.WriteString(w, `{"ok":true,"padding":"`+strings.Repeat("x", 4096)+`"}`)
		case "13800000001":
			w.WriteHeader(http.StatusInternalServerError)
		case "13800000002":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			t.Errorf("telephone = %q", body["telephone"])
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func TestWebhookSend(t *testing.T) {
	srv, _ := newWebhookFake(t)
	w := sms.NewWebhook(srv.URL, srv.Client())
	for _, tc := range []sendCase{
		{"a 2xx answer is sent", "13800000000", identity.SMSPurposeCode, "*", ""},
		{"HTTP 500 is unavailable", "13800000001", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"HTTP 429 is unavailable too", "13800000002", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := w.Send(t.Context(), identity.SMS{Telephone: tc.telephone, Purpose: tc.purpose, Code: testCode})
			if got := identity.CodeOf(err); got != tc.wantCode {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.wantCode, err)
			}
			if (id != "") != (tc.wantID != "") {
				t.Errorf("message id = %q", id)
			}
		})
	}
}

func TestWebhookPostsTheDocumentedBody(t *testing.T) {
	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	t.Cleanup(srv.Close)
	_, err := sms.NewWebhook(srv.URL, srv.Client()).Send(t.Context(), identity.SMS{Telephone: "13800000000", Purpose: identity.SMSPurposeNotice, Code: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if b, want := string(<-got), `{"telephone":"13800000000","code":"1","purpose":"notice"}`; b != want {
		t.Fatalf("body = %s, want %s", b, want)
	}
}

func TestWebhookReusesConnections(t *testing.T) {
	srv, conns := newWebhookFake(t)
	w := sms.NewWebhook(srv.URL, srv.Client())
	for range 20 {
		if _, err := w.Send(t.Context(), identity.SMS{Telephone: "13800000000", Purpose: identity.SMSPurposeCode, Code: testCode}); err != nil {
			t.Fatal(err)
		}
		// Error answers must not cost a connection either.
		if _, err := w.Send(t.Context(), identity.SMS{Telephone: "13800000001", Purpose: identity.SMSPurposeCode, Code: testCode}); err == nil {
			t.Fatal("500 accepted")
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 40 sequential sends, want 1", n)
	}
}

func TestWebhookTimeoutIsUnavailable(t *testing.T) {
	srv := MustHang(t)
	w := sms.NewWebhook(srv.URL+"/hook?token=secret-token", &http.Client{Timeout: 50 * time.Millisecond})
	_, err := w.Send(t.Context(), identity.SMS{Telephone: "13800000000", Purpose: identity.SMSPurposeCode, Code: testCode})
	if got := identity.CodeOf(err); got != identity.CodeSMSUnavailable {
		t.Fatalf("code = %q (err %v)", got, err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("error %q leaks the webhook URL", err)
	}
}

func BenchmarkWebhookSend(b *testing.B) {
	srv, _ := newWebhookFake(b)
	w := sms.NewWebhook(srv.URL, nil) // the default client, as production builds it
	msg := identity.SMS{Telephone: "13800000000", Purpose: identity.SMSPurposeCode, Code: testCode}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.Send(b.Context(), msg); err != nil {
				b.Error(err)
			}
		}
	})
}
