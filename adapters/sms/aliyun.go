package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

// AliyunConfig is what the Aliyun SMS console (dysmsapi) hands out.
type AliyunConfig struct {
	AccessKeyID     string
	AccessKeySecret string
	SignName        string // 短信签名
	// TemplateCode is the template of "code" messages; its one variable is
	// named "code".
	TemplateCode string
	// NoticeTemplateCode is the template of "notice" messages; it has no
	// variables.
	NoticeTemplateCode string
	Endpoint           string // default https://dysmsapi.aliyuncs.com
	RegionID           string // default cn-hangzhou
}

// Aliyun sends SMS through dysmsapi 2017-05-25 SendSms, signed with the RPC
// signature v1.0 (HMAC-SHA1).
type Aliyun struct {
	// Logger gets one line per answered send with Aliyun's RequestId and
	// BizId. The code is never logged.
	Logger *slog.Logger
	// Now and Nonce feed the signed Timestamp and SignatureNonce; tests pin
	// them. Set them before the first Send.
	Now   func() time.Time
	Nonce func() string

	cfg    AliyunConfig
	client *http.Client
}

var _ identity.SMSSender = (*Aliyun)(nil)

// NewAliyun returns an Aliyun sender; a nil client gets a 5 s timeout.
func NewAliyun(cfg AliyunConfig, client *http.Client) *Aliyun {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://dysmsapi.aliyuncs.com"
	}
	if cfg.RegionID == "" {
		cfg.RegionID = "cn-hangzhou"
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if client == nil {
		client = defaultClient()
	}
	return &Aliyun{
		Logger: slog.Default(),
		Now:    time.Now,
		Nonce:  rand.Text,
		cfg:    cfg,
		client: client,
	}
}

// Send sends msg with the template of its purpose and returns Aliyun's BizId.
// Errors: CodeRateLimited (isv.BUSINESS_LIMIT_CONTROL*), CodeValidation
// (isv.MOBILE_NUMBER_ILLEGAL), CodeSMSUnavailable for everything else.
func (a *Aliyun) Send(ctx context.Context, msg identity.SMS) (string, error) {
	params := map[string]string{
		"AccessKeyId":      a.cfg.AccessKeyID,
		"Action":           "SendSms",
		"Format":           "JSON",
		"PhoneNumbers":     strings.TrimPrefix(msg.Telephone, "+86"), // domestic numbers go without a country code
		"RegionId":         a.cfg.RegionID,
		"SignName":         a.cfg.SignName,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   a.Nonce(),
		"SignatureVersion": "1.0",
		"Timestamp":        a.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"Version":          "2017-05-25",
	}
	switch msg.Purpose {
	case identity.SMSPurposeCode:
		params["TemplateCode"] = a.cfg.TemplateCode
		// TemplateParam is a JSON object whose values are strings.
		tp, err := json.Marshal(map[string]string{"code": msg.Code})
		if err != nil {
			return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("aliyun: encoding template param: %w", err))
		}
		params["TemplateParam"] = string(tp)
	case identity.SMSPurposeNotice:
		params["TemplateCode"] = a.cfg.NoticeTemplateCode
	default:
		return "", fmt.Errorf("aliyun: unknown sms purpose %q", msg.Purpose)
	}
	if params["TemplateCode"] == "" {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("aliyun: no template configured for purpose %q", msg.Purpose))
	}

	// The parameters travel in a form body, not the URL: the code is one of
	// them, and URLs end up in proxy logs and in *url.Error messages.
	body := aliyunCanonicalQuery(params) + "&Signature=" + aliyunEncode(SignAliyun(http.MethodPost, params, a.cfg.AccessKeySecret))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.Endpoint+"/", strings.NewReader(body))
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("aliyun: building request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, transportError("aliyun", err))
	}
	defer drainClose(resp.Body)

	var out struct {
		RequestID string `json:"RequestId"`
		BizID     string `json:"BizId"`
		Code      string `json:"Code"`
		Message   string `json:"Message"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, transportError("aliyun", err))
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Code == "" {
		// Not an API answer (a gateway error page, say). The body is left
		// out of the cause: nothing guarantees it does not echo the request.
		if err == nil {
			err = errors.New("no Code in answer")
		}
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("aliyun: http %d: %w", resp.StatusCode, err))
	}
	// Refusals come with HTTP 200 too: only Code "OK" means sent.
	if resp.StatusCode == http.StatusOK && out.Code == "OK" {
		a.Logger.InfoContext(ctx, "sms sent", "provider", "aliyun", "purpose", msg.Purpose,
			"telephone", identity.MaskPhone(msg.Telephone), "requestId", out.RequestID, "bizId", out.BizID)
		return out.BizID, nil
	}
	a.Logger.WarnContext(ctx, "sms refused", "provider", "aliyun", "purpose", msg.Purpose,
		"telephone", identity.MaskPhone(msg.Telephone), "requestId", out.RequestID, "status", resp.StatusCode,
		"providerCode", out.Code, "providerMessage", out.Message)
	cause := &providerError{Provider: "aliyun", Status: resp.StatusCode, Code: out.Code, Message: out.Message, RequestID: out.RequestID}
	switch {
	case strings.HasPrefix(out.Code, "isv.BUSINESS_LIMIT_CONTROL"):
		return "", identity.Wrap(identity.CodeRateLimited, cause)
	case out.Code == "isv.MOBILE_NUMBER_ILLEGAL":
		return "", &identity.Error{Code: identity.CodeValidation, Message: "手机号格式不正确", Field: "telephone", Cause: cause}
	default:
		return "", identity.Wrap(identity.CodeSMSUnavailable, cause)
	}
}

// SignAliyun is the Aliyun RPC signature v1.0 (HMAC-SHA1) of params for an
// HTTP method; a "Signature" entry in params is ignored.
func SignAliyun(method string, params map[string]string, secret string) string {
	toSign := method + "&" + aliyunEncode("/") + "&" + aliyunEncode(aliyunCanonicalQuery(params))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// aliyunCanonicalQuery is params sorted by key and percent-encoded, without
// the signature itself.
func aliyunCanonicalQuery(params map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if k == "Signature" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(aliyunEncode(k))
		b.WriteByte('=')
		b.WriteString(aliyunEncode(params[k]))
	}
	return b.String()
}

// aliyunEncode percent-encodes s as RFC 3986 does (what Aliyun signs):
// QueryEscape differs only on space, '*' and '~'.
func aliyunEncode(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}
