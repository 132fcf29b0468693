// Package web holds the HTTP plumbing shared by the GraphQL endpoint and the
// legacy REST shim: who is calling (session, client IP), security headers,
// CORS, health checks and the captcha image.
package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

// Caller resolves the caller of every request: the session of an
// `Authorization: Bearer` token (an invalid token leaves the request
// anonymous; an unreachable database answers 503), the client IP and the
// base URL.
type Caller struct {
	Service *identity.Service
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
}

// Wrap returns next with the caller in the request context.
func (c Caller) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := identity.WithRequest(r.Context(), identity.Request{
			IP:      c.clientIP(r),
			BaseURL: c.scheme(r) + "://" + r.Host,
		})
		if token, ok := bearer(r); ok {
			actor, err := c.Service.Authenticate(ctx, token)
			switch identity.CodeOf(err) {
			case "":
				ctx = identity.WithActor(ctx, actor)
			case identity.CodeUnauthenticated:
				// Left anonymous: protected calls answer UNAUTHENTICATED,
				// public ones (login) still work.
			default:
				// Not "please log in": clients would drop a valid token.
				WriteEnvelope(w, http.StatusServiceUnavailable, identity.CodeUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

func (c Caller) trusted(addr netip.Addr) bool {
	return slices.ContainsFunc(c.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// clientIP is the connection's address, or, behind trusted proxies, the
// rightmost X-Forwarded-For address that is not one of them.
func (c Caller) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if !c.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !c.trusted(hop) {
			return hop.String()
		}
		addr = hop
	}
	return addr.String()
}

func (c Caller) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if addr, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && c.trusted(addr.Addr().Unmap()) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			return p
		}
	}
	return "http"
}

// ParseProxies reads TRUSTED_PROXIES: comma-separated addresses or CIDRs.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			addr, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Shared header values, set without Header.Set's per-call allocation
// (nothing appends to them: Add would copy).
var (
	nosniff    = []string{"nosniff"}
	frameDeny  = []string{"DENY"}
	noReferrer = []string{"no-referrer"}
)

// SecurityHeaders are set on every response.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = frameDeny
		h["Referrer-Policy"] = noReferrer
		next.ServeHTTP(w, r)
	})
}

// CORS allows the listed origins (the admin web UI) to call with a bearer
// token; nothing relies on cookies, so no credentials mode is needed.
func CORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin") // answers differ by origin, also for caches
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(origins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Recover turns a panic into a 500 without the panic's text.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "handler panic", "panic", p, "path", r.URL.Path)
				WriteEnvelope(w, http.StatusInternalServerError, identity.CodeInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// WriteJSON writes v with the JSON content type.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteEnvelope answers outside the REST shim (middleware, served files) in
// the legacy envelope, errCode as the document's string.
func WriteEnvelope(w http.ResponseWriter, status int, code identity.Code) {
	WriteJSON(w, status, map[string]string{"errCode": strconv.Itoa(code.LegacyCode()), "msg": code.Message()})
}

// Health answers /healthz (the process is up) and /readyz (every
// dependency answers within two seconds).
func Health(deps map[string]identity.Pinger) (healthz, readyz http.Handler) {
	healthz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	readyz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, checks := http.StatusOK, map[string]string{}
		for name, p := range deps {
			if err := p.Ping(ctx); err != nil {
				status, checks[name] = http.StatusServiceUnavailable, "unreachable"
				continue
			}
			checks[name] = "ok"
		}
		WriteJSON(w, status, map[string]any{"status": http.StatusText(status), "checks": checks})
	})
	return healthz, readyz
}

// CaptchaImage serves GET /captcha/<id>.png.
func CaptchaImage(svc *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/captcha/"), ".png")
		png, err := svc.CaptchaImage(r.Context(), id)
		if err != nil {
			code := identity.CodeOf(err)
			WriteEnvelope(w, code.HTTPStatus(), code)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(png)
	})
}
