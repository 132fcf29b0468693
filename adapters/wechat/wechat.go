// Package wechat is a small client of the WeChat Mini Program server API:
// login (jscode2session) and the user's phone number (getuserphonenumber),
// with the access token shared between replicas through identity.Cache.
package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

// Config is what the Mini Program console hands out.
type Config struct {
	AppID   string
	Secret  string
	BaseURL string // default https://api.weixin.qq.com
}

// Session is who logged in (identity.WeChatSession). WeChat's session_key is
// deliberately not part of it: the service never decrypts client data with
// it, so it is neither decoded, stored nor logged.
type Session = identity.WeChatSession

var _ identity.WeChat = (*Client)(nil)

// Client calls the WeChat API. It does not retry, except for one call whose
// access token WeChat reports invalid or expired.
type Client struct {
	// Logger gets cache failures, which are not fatal: the token is then
	// fetched from WeChat again.
	Logger *slog.Logger

	cfg    Config
	cache  identity.Cache
	client *http.Client
}

// New returns a client; a nil http client gets a 5 s timeout.
func New(cfg Config, cache identity.Cache, client *http.Client) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.weixin.qq.com"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{Logger: slog.Default(), cfg: cfg, cache: cache, client: client}
}

// Error codes of the WeChat API that change what we do.
const (
	errTokenInvalid = 40001
	errCodeInvalid  = 40029
	errCodeUsed     = 40163
	errTokenExpired = 42001
	errFrequency    = 45011
	errHighRiskUser = 40226
)

// tokenExpiryGuard is how long before WeChat's expiry our cached copy of the
// access token expires, so no replica uses a token in its last minutes.
const tokenExpiryGuard = 5 * time.Minute

// apiResult is the error part every WeChat answer has; a missing errcode
// means 0.
type apiResult struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// apiError is a refusal by WeChat, kept as the server-side cause.
type apiError struct {
	Path    string
	ErrCode int
	ErrMsg  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("wechat %s: errcode %d: %s", e.Path, e.ErrCode, e.ErrMsg)
}

// check turns a non-zero errcode into a catalogue error.
func (r apiResult) check(path string) error {
	if r.ErrCode == 0 {
		return nil
	}
	cause := &apiError{Path: path, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg}
	switch r.ErrCode {
	case errCodeInvalid, errCodeUsed:
		return &identity.Error{Code: identity.CodeValidation, Message: "微信登录凭证无效", Cause: cause}
	case errFrequency:
		return identity.Wrap(identity.CodeRateLimited, cause)
	case errHighRiskUser:
		return identity.Wrap(identity.CodeForbidden, cause)
	default: // -1 (system busy) included: the user can only try again later
		return identity.Wrap(identity.CodeUnavailable, cause)
	}
}

// Code2Session exchanges a wx.login code for the user's ids.
// Errors: CodeValidation (invalid or used code), CodeRateLimited,
// CodeForbidden (user blocked as high risk), CodeUnavailable otherwise.
func (c *Client) Code2Session(ctx context.Context, jsCode string) (Session, error) {
	const path = "/sns/jscode2session"
	q := url.Values{
		"appid":      {c.cfg.AppID},
		"secret":     {c.cfg.Secret},
		"js_code":    {jsCode},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		apiResult
		OpenID  string `json:"openid"`
		UnionID string `json:"unionid"`
	}
	if err := c.do(ctx, http.MethodGet, path, q, nil, &out); err != nil {
		return Session{}, err
	}
	if err := out.check(path); err != nil {
		return Session{}, err
	}
	if out.OpenID == "" {
		return Session{}, identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: no openid in answer", path))
	}
	return Session{OpenID: out.OpenID, UnionID: out.UnionID}, nil
}

// phoneAnswer is the answer of getuserphonenumber.
type phoneAnswer struct {
	apiResult
	PhoneInfo struct {
		PurePhoneNumber string `json:"purePhoneNumber"`
		Watermark       struct {
			AppID string `json:"appid"`
		} `json:"watermark"`
	} `json:"phone_info"`
}

// PhoneNumber exchanges a getPhoneNumber code for the user's number (without
// country code). Errors: CodeValidation (invalid or used code),
// CodeForbidden (the number was issued to another app, or a high-risk user),
// CodeRateLimited, CodeUnavailable otherwise.
func (c *Client) PhoneNumber(ctx context.Context, code string) (string, error) {
	const path = "/wxa/business/getuserphonenumber"
	token, err := c.accessToken(ctx)
	if err != nil {
		return "", err
	}
	call := func(token string) (out phoneAnswer, err error) {
		err = c.do(ctx, http.MethodPost, path, url.Values{"access_token": {token}}, map[string]string{"code": code}, &out)
		return out, err
	}
	out, err := call(token)
	if err == nil && (out.ErrCode == errTokenInvalid || out.ErrCode == errTokenExpired) {
		// The cached token died early (revoked, or expired on WeChat's
		// clock): get a live one and try this call once more.
		if token, err = c.refreshToken(ctx, token); err != nil {
			return "", err
		}
		out, err = call(token)
	}
	if err != nil {
		return "", err
	}
	if err := out.check(path); err != nil {
		return "", err
	}
	if got := out.PhoneInfo.Watermark.AppID; got != c.cfg.AppID {
		return "", identity.Wrap(identity.CodeForbidden, fmt.Errorf("wechat %s: watermark appid %q is not ours", path, got))
	}
	if out.PhoneInfo.PurePhoneNumber == "" {
		return "", identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: no purePhoneNumber in answer", path))
	}
	return out.PhoneInfo.PurePhoneNumber, nil
}

func (c *Client) tokenKey() string { return "wechat:access_token:" + c.cfg.AppID }

// accessToken returns the shared token from the cache, or fetches one.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	v, found, err := c.cache.Get(ctx, c.tokenKey())
	if err != nil {
		c.Logger.WarnContext(ctx, "wechat token cache read failed; fetching a token", "err", err)
	}
	if err == nil && found && len(v) > 0 {
		return string(v), nil
	}
	return c.fetchToken(ctx, false)
}

// refreshToken replaces a token WeChat refused. The stable token endpoint
// normally hands back the current token, which other replicas may already
// have renewed; only when it returns the very token that was refused is a
// forced refresh asked for (those are limited per day and invalidate the
// old token for everyone after a grace period).
func (c *Client) refreshToken(ctx context.Context, refused string) (string, error) {
	token, err := c.fetchToken(ctx, false)
	if err != nil || token != refused {
		return token, err
	}
	return c.fetchToken(ctx, true)
}

// fetchToken gets a token from /cgi-bin/stable_token and caches it. The
// stable endpoint is used instead of /cgi-bin/token because fetching from it
// does not invalidate the token other replicas are using.
func (c *Client) fetchToken(ctx context.Context, force bool) (string, error) {
	const path = "/cgi-bin/stable_token"
	in := struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", c.cfg.AppID, c.cfg.Secret, force}
	var out struct {
		apiResult
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"` // seconds
	}
	if err := c.do(ctx, http.MethodPost, path, nil, in, &out); err != nil {
		return "", err
	}
	if err := out.check(path); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: no access_token in answer", path))
	}
	lifetime := time.Duration(out.ExpiresIn) * time.Second
	ttl := lifetime - tokenExpiryGuard
	if ttl <= 0 {
		ttl = lifetime / 2
	}
	if ttl > 0 {
		if err := c.cache.Set(ctx, c.tokenKey(), []byte(out.AccessToken), ttl); err != nil {
			c.Logger.WarnContext(ctx, "wechat token cache write failed", "err", err)
		}
	}
	return out.AccessToken, nil
}

// do sends one request and decodes the JSON answer into out, whatever its
// content type (jscode2session says text/plain). body, when not nil, is sent
// as JSON. Transport failures and non-200 answers are CodeUnavailable.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.cfg.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: encoding body: %w", path, err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: building request: %w", path, err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// *url.Error would print the URL, with the app secret or the access
		// token in its query; keep only the operation and the reason.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: %w", path, err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: http %d", path, resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return identity.Wrap(identity.CodeUnavailable, fmt.Errorf("wechat %s: decoding answer: %w", path, err))
	}
	return nil
}
