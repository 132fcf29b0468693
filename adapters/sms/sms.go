// Package sms holds the identity.SMSSender drivers: Log for development,
// Webhook for an in-house gateway, and signed HTTP clients for Aliyun and
// Tencent Cloud (their official SDKs are not served by the module proxy).
//
// No driver retries: providers are not idempotent, so a retry could send a
// second code. Timeouts come from the *http.Client the caller passes.
package sms

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// defaultTimeout bounds a send when the caller passes no client.
const defaultTimeout = 5 * time.Second

// maxResponse caps how much of a provider answer is read: the answers are a
// few hundred bytes, and a misbehaving endpoint must not make us buffer more.
const maxResponse = 64 << 10

// defaultClient is used when a constructor gets a nil client. Its transport
// keeps more idle connections per host than http.DefaultTransport's 2: every
// send goes to the same host, and under load 2 idle connections would mean a
// new TCP+TLS handshake for nearly every message.
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return &http.Client{Timeout: defaultTimeout, Transport: t}
}

// drainClose reads what is left of body and closes it, so the transport can
// reuse the connection; the limit keeps a runaway body from holding the send.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxResponse))
	_ = body.Close()
}

// transportError drops the URL that *url.Error carries: a URL may hold
// credentials (a webhook token) and causes end up in logs. The inner error
// keeps timeouts recognisable (errors.Is(err, context.DeadlineExceeded)).
func transportError(provider string, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %s: %w", provider, ue.Op, ue.Err)
	}
	return fmt.Errorf("%s: %w", provider, err)
}

// providerError is a refusal reported by a provider; it is the server-side
// cause of the catalogue error the drivers return.
type providerError struct {
	Provider  string
	Status    int // HTTP status
	Code      string
	Message   string
	RequestID string
}

func (e *providerError) Error() string {
	return fmt.Sprintf("%s: http %d: %s: %s (request id %s)", e.Provider, e.Status, e.Code, e.Message, e.RequestID)
}
