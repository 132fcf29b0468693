package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

// TencentConfig is what the Tencent Cloud SMS console hands out.
type TencentConfig struct {
	SecretID  string
	SecretKey string
	SDKAppID  string
	SignName  string // 短信签名
	// TemplateID is the template of "code" messages; its one parameter is
	// the code.
	TemplateID string
	// NoticeTemplateID is the template of "notice" messages; it has no
	// parameters.
	NoticeTemplateID string
	Region           string // default ap-guangzhou
	Endpoint         string // default https://sms.tencentcloudapi.com
}

const (
	tencentService     = "sms"
	tencentContentType = "application/json; charset=utf-8"
)

// Tencent sends SMS through Tencent Cloud SendSms 2021-01-11, signed with
// TC3-HMAC-SHA256.
type Tencent struct {
	// Logger gets one line per answered send with Tencent's RequestId and
	// SerialNo. The code is never logged.
	Logger *slog.Logger
	// Now feeds the signed timestamp; tests pin it. Set it before the first
	// Send.
	Now func() time.Time

	cfg    TencentConfig
	host   string // the Host header, which is signed
	client *http.Client
}

var _ identity.SMSSender = (*Tencent)(nil)

// NewTencent returns a Tencent sender; a nil client gets a 5 s timeout.
func NewTencent(cfg TencentConfig, client *http.Client) *Tencent {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://sms.tencentcloudapi.com"
	}
	if cfg.Region == "" {
		cfg.Region = "ap-guangzhou"
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	var host string
	if u, err := url.Parse(cfg.Endpoint); err == nil {
		host = u.Host // a bad endpoint fails at Send, when building the request
	}
	if client == nil {
		client = defaultClient()
	}
	return &Tencent{Logger: slog.Default(), Now: time.Now, cfg: cfg, host: host, client: client}
}

// tencentRequest is the SendSms body. Do not rename the JSON tags: they are
// Tencent's parameter names.
type tencentRequest struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateID       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet,omitempty"`
}

// Send sends msg with the template of its purpose and returns Tencent's
// SerialNo. Errors: CodeRateLimited (LimitExceeded.PhoneNumber*),
// CodeValidation (an incorrect or unparsable number), CodeSMSUnavailable for
// everything else.
func (t *Tencent) Send(ctx context.Context, msg identity.SMS) (string, error) {
	in := tencentRequest{
		PhoneNumberSet: []string{tencentPhone(msg.Telephone)},
		SmsSdkAppID:    t.cfg.SDKAppID,
		SignName:       t.cfg.SignName,
	}
	switch msg.Purpose {
	case identity.SMSPurposeCode:
		in.TemplateID = t.cfg.TemplateID
		in.TemplateParamSet = []string{msg.Code}
	case identity.SMSPurposeNotice:
		in.TemplateID = t.cfg.NoticeTemplateID
	default:
		return "", fmt.Errorf("tencent: unknown sms purpose %q", msg.Purpose)
	}
	if in.TemplateID == "" {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("tencent: no template configured for purpose %q", msg.Purpose))
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("tencent: encoding body: %w", err))
	}

	ts := t.Now().Unix()
	scope := tc3Date(ts) + "/" + tencentService + "/tc3_request"
	sig := SignTC3(t.cfg.SecretKey, tencentService, t.host, ts, payload, tencentContentType)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Endpoint+"/", bytes.NewReader(payload))
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("tencent: building request: %w", err))
	}
	req.Host = t.host
	req.Header.Set("Content-Type", tencentContentType)
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", "2021-01-11")
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-TC-Region", t.cfg.Region)
	req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+t.cfg.SecretID+"/"+scope+
		", SignedHeaders=content-type;host, Signature="+sig)
	resp, err := t.client.Do(req)
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, transportError("tencent", err))
	}
	defer drainClose(resp.Body)

	var out struct {
		Response struct {
			Error *struct {
				Code    string `json:"Code"`
				Message string `json:"Message"`
			} `json:"Error"`
			RequestID     string `json:"RequestId"`
			SendStatusSet []struct {
				SerialNo string `json:"SerialNo"`
				Code     string `json:"Code"`
				Message  string `json:"Message"`
			} `json:"SendStatusSet"`
		} `json:"Response"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", identity.Wrap(identity.CodeSMSUnavailable, transportError("tencent", err))
	}
	err = json.Unmarshal(raw, &out)
	r := out.Response
	if err == nil && r.Error == nil && len(r.SendStatusSet) == 0 {
		err = errors.New("neither Error nor SendStatusSet in answer")
	}
	if err != nil {
		// The body is left out of the cause: nothing guarantees it does not
		// echo the request.
		return "", identity.Wrap(identity.CodeSMSUnavailable, fmt.Errorf("tencent: http %d: %w", resp.StatusCode, err))
	}

	// A request-level Error, else the status of our one number: the request
	// succeeds (HTTP 200, no Error) even when that number was refused.
	cause := &providerError{Provider: "tencent", Status: resp.StatusCode, RequestID: r.RequestID}
	if r.Error != nil {
		cause.Code, cause.Message = r.Error.Code, r.Error.Message
	} else {
		st := r.SendStatusSet[0]
		if resp.StatusCode == http.StatusOK && st.Code == "Ok" {
			t.Logger.InfoContext(ctx, "sms sent", "provider", "tencent", "purpose", msg.Purpose,
				"telephone", identity.MaskPhone(msg.Telephone), "requestId", r.RequestID, "serialNo", st.SerialNo)
			return st.SerialNo, nil
		}
		cause.Code, cause.Message = st.Code, st.Message
	}
	t.Logger.WarnContext(ctx, "sms refused", "provider", "tencent", "purpose", msg.Purpose,
		"telephone", identity.MaskPhone(msg.Telephone), "requestId", r.RequestID, "status", resp.StatusCode,
		"providerCode", cause.Code, "providerMessage", cause.Message)
	switch {
	case strings.HasPrefix(cause.Code, "LimitExceeded.PhoneNumber"):
		return "", identity.Wrap(identity.CodeRateLimited, cause)
	case cause.Code == "InvalidParameterValue.IncorrectPhoneNumber", cause.Code == "FailedOperation.PhoneNumberParseFail":
		return "", &identity.Error{Code: identity.CodeValidation, Message: "手机号格式不正确", Field: "telephone", Cause: cause}
	default:
		return "", identity.Wrap(identity.CodeSMSUnavailable, cause)
	}
}

// tencentPhone writes a mainland number in E.164 (+86…), which SendSms
// expects; numbers that already carry a country code pass through.
func tencentPhone(s string) string {
	switch {
	case strings.HasPrefix(s, "+"):
		return s
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		return "+" + s
	default:
		return "+86" + s
	}
}

// SignTC3 is the TC3-HMAC-SHA256 signature (hex) of a POST to "/" with an
// empty query, signing the content-type and host headers.
func SignTC3(secretKey, service, host string, timestamp int64, payload []byte, contentType string) string {
	payloadHash := sha256.Sum256(payload)
	canonicalRequest := "POST\n/\n\n" +
		"content-type:" + strings.ToLower(strings.TrimSpace(contentType)) + "\n" +
		"host:" + strings.ToLower(strings.TrimSpace(host)) + "\n" +
		"\n" +
		"content-type;host\n" +
		hex.EncodeToString(payloadHash[:])
	date := tc3Date(timestamp)
	requestHash := sha256.Sum256([]byte(canonicalRequest))
	toSign := "TC3-HMAC-SHA256\n" + strconv.FormatInt(timestamp, 10) + "\n" +
		date + "/" + service + "/tc3_request\n" + hex.EncodeToString(requestHash[:])
	key := hmacSHA256([]byte("TC3"+secretKey), date)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "tc3_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// tc3Date is the UTC date of the credential scope; Tencent rejects a scope
// whose date does not match the timestamp's.
func tc3Date(timestamp int64) string {
	return time.Unix(timestamp, 0).UTC().Format("2006-01-02")
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}
