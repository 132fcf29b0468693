package sms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/carcity/identity/identity"
)

// Webhook hands each message to an HTTP endpoint (an in-house SMS gateway)
// as a JSON POST. It sits on the hot path, so it shares one client and
// always drains response bodies to keep connections reusable.
type Webhook struct {
	url    string
	client *http.Client
}

var _ identity.SMSSender = (*Webhook)(nil)

// NewWebhook posts to url with client; a nil client gets a 5 s timeout.
func NewWebhook(url string, client *http.Client) *Webhook {
	if client == nil {
		client = defaultClient()
	}
	return &Webhook{url: url, client: client}
}

// webhookBody is the wire format the gateway expects. Do not rename the JSON
// tags: the receiving side matches on them.
type webhookBody struct {
	Telephone string `json:"telephone"`
	Code      string `json:"code"`
	Purpose   string `json:"purpose"`
}

// Send posts msg. Any failure (transport, timeout, non-2xx status) is
// CodeSMSUnavailable. The message id is generated here and sent in the
// X-Message-Id header, so the gateway's logs can be matched with ours.
func (w *Webhook) Send(ctx context.Context, msg identity.SMS) (string, error) {
	body, err := json.Marshal(webhookBody{Telephone: msg.Telephone, Code: msg.Code, Purpose: msg.Purpose})
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("webhook: encoding body: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("webhook: building request: %w", err))
	}
	id := "wh-" + rand.Text()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Message-Id", id)
	resp, err := w.client.Do(req)
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, transportError("webhook", err))
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("webhook: http %d", resp.StatusCode))
	}
	return id, nil
}
