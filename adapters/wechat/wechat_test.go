package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/wechat"
	"github.com/carcity/identity/identity"
)

const (
	appID      = "wx-app"
	appSecret  = "app-secret-123"
	sessionKey = "SESSION-KEY-must-not-leak"
	tokenKey   = "wechat:access_token:" + appID
)

// memCache is identity.Cache on a map; it records TTLs instead of expiring.
type memCache struct {
	mu   sync.Mutex
	m    map[string][]byte
	ttl  map[string]time.Duration
	fail bool // every call fails, like an unreachable Redis
}

func newMemCache() *memCache {
	return &memCache{m: map[string][]byte{}, ttl: map[string]time.Duration{}}
}

func (c *memCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, false, errors.New("cache down")
	}
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *memCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return errors.New("cache down")
	}
	c.m[key], c.ttl[key] = value, ttl
	return nil
}

func (c *memCache) value(key string) (string, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.m[key]), c.ttl[key]
}

// fake is the part of api.weixin.qq.com the client uses.
type fake struct {
	t  *testing.T
	mu sync.Mutex
	// live is the token getuserphonenumber accepts; stable is what
	// stable_token hands out without force_refresh. A forced refresh makes
	// the stable token the live one, unless rejectAll.
	live, stable string
	rejectAll    bool
	tokenCalls   int
	forceCalls   int
	phoneCalls   int
}

func (f *fake) counts() (token, force, phone int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.forceCalls, f.phoneCalls
}

func errJSON(code int, msg string) string {
	return fmt.Sprintf(`{"errcode":%d,"errmsg":"%s rid: 1234"}`, code, msg)
}

// codeAnswers maps a js_code or phone code to WeChat's refusal.
var codeAnswers = map[string]string{
	"invalid": errJSON(40029, "invalid code"),
	"used":    errJSON(40163, "code been used"),
	"busy":    errJSON(-1, "system error"),
	"limited": errJSON(45011, "api minute-quota reach limit"),
	"risky":   errJSON(40226, "high risk user"),
	"other":   errJSON(40099, "something else"),
	"garbage": "<html>not json",
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	f.mu.Lock()
	defer f.mu.Unlock()
	// WeChat answers JSON but labels some of it text/plain.
	w.Header().Set("Content-Type", "text/plain")
	q := r.URL.Query()
	switch r.URL.Path {
	case "/sns/jscode2session":
		if r.Method != http.MethodGet || q.Get("secret") != appSecret || q.Get("grant_type") != "authorization_code" {
			t.Errorf("jscode2session %s %s", r.Method, r.URL.RawQuery)
		}
		if q.Get("appid") != appID {
			fmt.Fprint(w, errJSON(40013, "invalid appid"))
			return
		}
		switch code := q.Get("js_code"); code {
		case "good":
			fmt.Fprintf(w, `{"session_key":%q,"openid":"o-1","unionid":"u-1"}`, sessionKey)
		case "no-union":
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","session_key":%q,"openid":"o-2"}`, sessionKey)
		case "no-openid":
			fmt.Fprint(w, `{"errcode":0}`)
		case "status":
			w.WriteHeader(http.StatusBadGateway)
		default:
			fmt.Fprint(w, codeAnswers[code])
		}

	case "/cgi-bin/stable_token":
		var in struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Method != http.MethodPost ||
			in.GrantType != "client_credential" || in.Secret != appSecret {
			t.Errorf("stable_token %s %+v %v", r.Method, in, err)
		}
		if in.AppID != appID {
			fmt.Fprint(w, errJSON(40013, "invalid appid"))
			return
		}
		f.tokenCalls++
		if in.ForceRefresh {
			f.forceCalls++
			if !f.rejectAll {
				f.stable = f.live
			}
		}
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":7200}`, f.stable)

	case "/wxa/business/getuserphonenumber":
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		f.phoneCalls++
		var in struct{ Code string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Method != http.MethodPost {
			t.Errorf("getuserphonenumber %s: %v", r.Method, err)
		}
		if f.rejectAll || q.Get("access_token") != f.live {
			fmt.Fprint(w, errJSON(40001, "invalid credential, access_token is invalid or not latest"))
			return
		}
		phone := func(watermark string) {
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"+86 13800000000",`+
				`"purePhoneNumber":"13800000000","countryCode":"86","watermark":{"timestamp":1637744274,"appid":%q}}}`, watermark)
		}
		switch in.Code {
		case "good":
			phone(appID)
		case "foreign":
			phone("wx-other")
		default:
			fmt.Fprint(w, codeAnswers[in.Code])
		}

	default:
		t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

// MustFake starts the fake with live and stable token "token-1".
func MustFake(t *testing.T) (*fake, *httptest.Server) {
	t.Helper()
	f := &fake{t: t, live: "token-1", stable: "token-1"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func newClient(srv *httptest.Server, cache identity.Cache) *wechat.Client {
	return wechat.New(wechat.Config{AppID: appID, Secret: appSecret, BaseURL: srv.URL}, cache, srv.Client())
}

func TestCode2Session(t *testing.T) {
	_, srv := MustFake(t)
	c := newClient(srv, newMemCache())
	for _, tc := range []struct {
		name     string
		jsCode   string
		want     wechat.Session
		wantCode identity.Code
	}{
		{"a good code gives the open and union ids", "good", wechat.Session{OpenID: "o-1", UnionID: "u-1"}, ""},
		{"errcode 0 and no unionid is fine", "no-union", wechat.Session{OpenID: "o-2"}, ""},
		{"an invalid code is a validation error", "invalid", wechat.Session{}, identity.CodeValidation},
		{"a used code is a validation error", "used", wechat.Session{}, identity.CodeValidation},
		{"system busy is unavailable", "busy", wechat.Session{}, identity.CodeUnavailable},
		{"the frequency limit is a rate limit", "limited", wechat.Session{}, identity.CodeRateLimited},
		{"a high-risk user is forbidden", "risky", wechat.Session{}, identity.CodeForbidden},
		{"any other errcode is unavailable", "other", wechat.Session{}, identity.CodeUnavailable},
		{"a garbage body is unavailable", "garbage", wechat.Session{}, identity.CodeUnavailable},
		{"a non-200 status is unavailable", "status", wechat.Session{}, identity.CodeUnavailable},
		{"an answer without openid is unavailable", "no-openid", wechat.Session{}, identity.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Code2Session(t.Context(), tc.jsCode)
			if code := identity.CodeOf(err); code != tc.wantCode {
				t.Fatalf("code = %q, want %q (err %v)", code, tc.wantCode, err)
			}
			if got != tc.want {
				t.Errorf("session = %+v, want %+v", got, tc.want)
			}
			if tc.wantCode == identity.CodeValidation && identity.Public(err).Message != "微信登录凭证无效" {
				t.Errorf("message = %q", identity.Public(err).Message)
			}
			if err != nil && strings.Contains(err.Error(), appSecret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestPhoneNumberCachesTheToken(t *testing.T) {
	f, srv := MustFake(t)
	cache := newMemCache()
	c := newClient(srv, cache)
	for range 2 {
		phone, err := c.PhoneNumber(t.Context(), "good")
		if err != nil || phone != "13800000000" {
			t.Fatalf("PhoneNumber = %q, %v", phone, err)
		}
	}
	if tokens, _, phones := f.counts(); tokens != 1 || phones != 2 {
		t.Fatalf("%d token fetches and %d phone calls, want 1 and 2", tokens, phones)
	}
	if v, ttl := cache.value(tokenKey); v != "token-1" || ttl != 7200*time.Second-5*time.Minute {
		t.Fatalf("cached %q for %v, want token-1 for 1h55m", v, ttl)
	}

	t.Run("another replica sharing the cache fetches no token", func(t *testing.T) {
		if _, err := newClient(srv, cache).PhoneNumber(t.Context(), "good"); err != nil {
			t.Fatal(err)
		}
		if tokens, _, _ := f.counts(); tokens != 1 {
			t.Fatalf("%d token fetches, want 1", tokens)
		}
	})
}

func TestPhoneNumberReplacesARefusedToken(t *testing.T) {
	t.Run("with the current stable token", func(t *testing.T) {
		f, srv := MustFake(t)
		cache := newMemCache()
		_ = cache.Set(t.Context(), tokenKey, []byte("token-0"), time.Hour)
		phone, err := newClient(srv, cache).PhoneNumber(t.Context(), "good")
		if err != nil || phone != "13800000000" {
			t.Fatalf("PhoneNumber = %q, %v", phone, err)
		}
		if tokens, force, phones := f.counts(); tokens != 1 || force != 0 || phones != 2 {
			t.Fatalf("%d token fetches (%d forced), %d phone calls; want 1 (0), 2", tokens, force, phones)
		}
		if v, _ := cache.value(tokenKey); v != "token-1" {
			t.Fatalf("cached %q, want token-1", v)
		}
	})

	t.Run("with a forced refresh when the stable token is the refused one", func(t *testing.T) {
		f, srv := MustFake(t)
		f.live, f.stable = "token-2", "token-1"
		cache := newMemCache()
		_ = cache.Set(t.Context(), tokenKey, []byte("token-1"), time.Hour)
		phone, err := newClient(srv, cache).PhoneNumber(t.Context(), "good")
		if err != nil || phone != "13800000000" {
			t.Fatalf("PhoneNumber = %q, %v", phone, err)
		}
		if tokens, force, phones := f.counts(); tokens != 2 || force != 1 || phones != 2 {
			t.Fatalf("%d token fetches (%d forced), %d phone calls; want 2 (1), 2", tokens, force, phones)
		}
		if v, _ := cache.value(tokenKey); v != "token-2" {
			t.Fatalf("cached %q, want token-2", v)
		}
	})

	t.Run("only once", func(t *testing.T) {
		f, srv := MustFake(t)
		f.rejectAll = true
		_, err := newClient(srv, newMemCache()).PhoneNumber(t.Context(), "good")
		if code := identity.CodeOf(err); code != identity.CodeUnavailable {
			t.Fatalf("code = %q (err %v)", code, err)
		}
		if _, _, phones := f.counts(); phones != 2 {
			t.Fatalf("%d phone calls, want 2", phones)
		}
	})
}

func TestPhoneNumberErrors(t *testing.T) {
	_, srv := MustFake(t)
	c := newClient(srv, newMemCache())
	for _, tc := range []struct {
		name     string
		code     string
		wantCode identity.Code
	}{
		{"a number issued to another app is forbidden", "foreign", identity.CodeForbidden},
		{"an invalid code is a validation error", "invalid", identity.CodeValidation},
		{"the frequency limit is a rate limit", "limited", identity.CodeRateLimited},
		{"system busy is unavailable", "busy", identity.CodeUnavailable},
		{"a garbage body is unavailable", "garbage", identity.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			phone, err := c.PhoneNumber(t.Context(), tc.code)
			if code := identity.CodeOf(err); code != tc.wantCode || phone != "" {
				t.Fatalf("PhoneNumber = %q, code %q, want code %q (err %v)", phone, code, tc.wantCode, err)
			}
		})
	}
}

func TestTokenEndpointRefusalIsUnavailable(t *testing.T) {
	_, srv := MustFake(t)
	c := wechat.New(wechat.Config{AppID: "wx-wrong", Secret: appSecret, BaseURL: srv.URL}, newMemCache(), srv.Client())
	_, err := c.PhoneNumber(t.Context(), "good")
	if code := identity.CodeOf(err); code != identity.CodeUnavailable || !strings.Contains(err.Error(), "40013") {
		t.Fatalf("code = %q, err %v; want unavailable caused by 40013", code, err)
	}
}

func TestACacheOutageIsNotFatal(t *testing.T) {
	f, srv := MustFake(t)
	cache := newMemCache()
	cache.fail = true
	c := newClient(srv, cache)
	var logs strings.Builder
	c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := c.PhoneNumber(t.Context(), "good"); err != nil {
		t.Fatal(err)
	}
	if tokens, _, _ := f.counts(); tokens != 1 {
		t.Fatalf("%d token fetches, want 1", tokens)
	}
	if !strings.Contains(logs.String(), "cache down") {
		t.Fatalf("the outage was not logged:\n%s", logs.String())
	}
}

func TestTransportErrorsAreUnavailableAndHideTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens any more
	c := newClient(srv, newMemCache())
	_, err := c.Code2Session(t.Context(), "good")
	if code := identity.CodeOf(err); code != identity.CodeUnavailable {
		t.Fatalf("code = %q (err %v)", code, err)
	}
	if strings.Contains(err.Error(), appSecret) {
		t.Fatalf("error %q leaks the secret", err)
	}
	if _, err := c.PhoneNumber(t.Context(), "good"); identity.CodeOf(err) != identity.CodeUnavailable {
		t.Fatalf("PhoneNumber err = %v", err)
	}
}

func TestSessionKeyIsNeverReturned(t *testing.T) {
	_, srv := MustFake(t)
	s, err := newClient(srv, newMemCache()).Code2Session(t.Context(), "good")
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%#v", s); strings.Contains(out, sessionKey) {
		t.Fatalf("session %s holds the session key", out)
	}
}
