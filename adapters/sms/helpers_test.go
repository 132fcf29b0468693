package sms_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

// testCode is distinctive enough that finding it in a log means it leaked.
const testCode = "918273"

var fixedNow = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

// syncBuffer is a bytes.Buffer safe for a logger used across goroutines.
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

// MustCaptureLogs returns a logger that records every level into the buffer.
func MustCaptureLogs(tb testing.TB) (*slog.Logger, *syncBuffer) {
	tb.Helper()
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// sendCase is one provider scenario: the fake answers by telephone.
type sendCase struct {
	name      string
	telephone string
	purpose   string
	wantID    string
	wantCode  identity.Code
}

// MustHang starts a server whose handler never answers, until the client
// gives up or the test ends.
func MustHang(tb testing.TB) *httptest.Server {
	tb.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() { close(release) }) // runs first: unblocks handlers so Close returns
	return srv
}

// checkSend runs one case against sender and checks the outcome.
func checkSend(t *testing.T, sender identity.SMSSender, tc sendCase) {
	t.Helper()
	id, err := sender.Send(context.Background(), identity.SMS{Telephone: tc.telephone, Purpose: tc.purpose, Code: testCode})
	if got := identity.CodeOf(err); got != tc.wantCode {
		t.Fatalf("code = %q, want %q (err %v)", got, tc.wantCode, err)
	}
	if id != tc.wantID {
		t.Errorf("message id = %q, want %q", id, tc.wantID)
	}
	if err != nil && strings.Contains(err.Error(), testCode) {
		t.Errorf("error %q contains the code", err)
	}
	if tc.wantCode == identity.CodeValidation {
		if e := identity.Public(err); e.Message != "手机号格式不正确" || e.Field != "telephone" {
			t.Errorf("validation error = %q on %q, want 手机号格式不正确 on telephone", e.Message, e.Field)
		}
	}
}
