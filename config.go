package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/web"
)

// config is everything read from the environment; see the README's table.
type config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	DBMaxConns  int
	RedisURL    string
	StorageURL  string
	// StorageEmulatorHost is STORAGE_EMULATOR_HOST, which the GCS client
	// library also reads.
	StorageEmulatorHost string
	PublicURL           string
	Production          bool
	DebugAddr           string

	SMSProvider       string
	SMSWebhookURL     string
	TestOTP           map[string]string
	TestOTPValidUntil time.Time
	CaptchaTestCode   string
	AdminPhone        string
	AdminPassword     string

	Secret   []byte
	PIIKeys  string
	RESTAuth string // token | legacy
	// RESTErrCodeNumber makes errCode a JSON number instead of a string.
	RESTErrCodeNumber bool

	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	Playground     bool

	SessionTTL     time.Duration
	SessionIdle    time.Duration
	SessionCache   time.Duration
	SendPerIP      int
	MaxUploadBytes int64

	Providers providerConfig
}

// providerConfig are the SMS vendors' and WeChat's settings.
type providerConfig struct {
	AliyunAccessKeyID, AliyunAccessKeySecret, AliyunSignName, AliyunTemplateCode, AliyunNoticeTemplateCode string
	TencentSecretID, TencentSecretKey, TencentSDKAppID, TencentSignName, TencentTemplateID                 string
	TencentNoticeTemplateID, TencentRegion                                                                 string
	WeChatAppID, WeChatSecret, WeChatBaseURL                                                               string
}

// loadConfig reads and checks the environment. Production refuses settings
// that are only safe in development.
func loadConfig(getenv func(string) string) (*config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	intEnv := func(k string, def int) int {
		v := env(k, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s must be a non-negative integer", k))
		}
		return n
	}
	durEnv := func(k string, def time.Duration) time.Duration {
		v := env(k, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a duration such as 720h", k))
		}
		return d
	}
	c := &config{
		Addr:                env("ADDR", ":8080"),
		DataDir:             env("DATA_DIR", "./data"),
		DatabaseURL:         env("DATABASE_URL", ""),
		DBMaxConns:          intEnv("DB_MAX_CONNS", 20),
		RedisURL:            env("REDIS_URL", ""),
		StorageURL:          env("STORAGE_URL", ""),
		StorageEmulatorHost: env("STORAGE_EMULATOR_HOST", ""),
		PublicURL:           strings.TrimRight(env("PUBLIC_URL", ""), "/"),
		DebugAddr:           env("DEBUG_ADDR", ""),
		SMSProvider:         env("SMS_PROVIDER", "log"),
		SMSWebhookURL:       env("SMS_WEBHOOK_URL", ""),
		CaptchaTestCode:     env("CAPTCHA_TEST_CODE", ""),
		AdminPhone:          env("ADMIN_PHONE", ""),
		AdminPassword:       getenv("ADMIN_PASSWORD"),
		PIIKeys:             env("PII_KEY", ""),
		RESTAuth:            env("REST_AUTH", "token"),
		Playground:          env("GRAPHQL_PLAYGROUND", "") == "true",
		SessionTTL:          durEnv("SESSION_TTL", 30*24*time.Hour),
		SessionIdle:         durEnv("SESSION_IDLE_TTL", 7*24*time.Hour),
		SendPerIP:           intEnv("SMS_PER_IP_HOUR", 200),
		MaxUploadBytes:      int64(intEnv("MAX_UPLOAD_MB", 5)) << 20,
		Providers: providerConfig{
			AliyunAccessKeyID:        env("ALIYUN_ACCESS_KEY_ID", ""),
			AliyunAccessKeySecret:    env("ALIYUN_ACCESS_KEY_SECRET", ""),
			AliyunSignName:           env("ALIYUN_SMS_SIGN_NAME", ""),
			AliyunTemplateCode:       env("ALIYUN_SMS_TEMPLATE_CODE", ""),
			AliyunNoticeTemplateCode: env("ALIYUN_SMS_NOTICE_TEMPLATE_CODE", ""),
			TencentSecretID:          env("TENCENT_SECRET_ID", ""),
			TencentSecretKey:         env("TENCENT_SECRET_KEY", ""),
			TencentSDKAppID:          env("TENCENT_SMS_SDK_APP_ID", ""),
			TencentSignName:          env("TENCENT_SMS_SIGN_NAME", ""),
			TencentTemplateID:        env("TENCENT_SMS_TEMPLATE_ID", ""),
			TencentNoticeTemplateID:  env("TENCENT_SMS_NOTICE_TEMPLATE_ID", ""),
			TencentRegion:            env("TENCENT_SMS_REGION", "ap-guangzhou"),
			WeChatAppID:              env("WECHAT_APPID", ""),
			WeChatSecret:             env("WECHAT_SECRET", ""),
			WeChatBaseURL:            env("WECHAT_BASE_URL", ""),
		},
	}
	// SESSION_CACHE_TTL=0 turns the cache off (the service's zero means default).
	c.SessionCache = 2 * time.Second
	if v := env("SESSION_CACHE_TTL", ""); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d < 0:
			errs = append(errs, errors.New("SESSION_CACHE_TTL must be a duration such as 2s, or 0"))
		case d == 0:
			c.SessionCache = -1
		default:
			c.SessionCache = d
		}
	}
	switch appEnv := env("APP_ENV", "development"); appEnv {
	case "production":
		c.Production = true
	case "development":
	default:
		errs = append(errs, fmt.Errorf("APP_ENV must be development or production, not %q", appEnv))
	}
	if !c.Production && env("GRAPHQL_PLAYGROUND", "") != "false" {
		c.Playground = true
	}
	switch env("REST_ERRCODE", "string") {
	case "string":
	case "number":
		c.RESTErrCodeNumber = true
	default:
		errs = append(errs, errors.New("REST_ERRCODE must be string or number"))
	}
	if c.RESTAuth != "token" && c.RESTAuth != "legacy" {
		errs = append(errs, errors.New("REST_AUTH must be token or legacy"))
	}
	switch c.SMSProvider {
	case "log":
	case "webhook":
		if c.SMSWebhookURL == "" {
			errs = append(errs, errors.New("SMS_PROVIDER=webhook needs SMS_WEBHOOK_URL"))
		}
	case "aliyun":
		if c.Providers.AliyunAccessKeyID == "" || c.Providers.AliyunAccessKeySecret == "" || c.Providers.AliyunSignName == "" || c.Providers.AliyunTemplateCode == "" {
			errs = append(errs, errors.New("SMS_PROVIDER=aliyun needs ALIYUN_ACCESS_KEY_ID, ALIYUN_ACCESS_KEY_SECRET, ALIYUN_SMS_SIGN_NAME and ALIYUN_SMS_TEMPLATE_CODE"))
		}
	case "tencent":
		if c.Providers.TencentSecretID == "" || c.Providers.TencentSecretKey == "" || c.Providers.TencentSDKAppID == "" || c.Providers.TencentSignName == "" || c.Providers.TencentTemplateID == "" {
			errs = append(errs, errors.New("SMS_PROVIDER=tencent needs TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_SMS_SDK_APP_ID, TENCENT_SMS_SIGN_NAME and TENCENT_SMS_TEMPLATE_ID"))
		}
	default:
		errs = append(errs, fmt.Errorf("SMS_PROVIDER must be log, webhook, aliyun or tencent, not %q", c.SMSProvider))
	}
	if c.CaptchaTestCode != "" && strings.Trim(c.CaptchaTestCode, "0123456789") != "" {
		errs = append(errs, errors.New("CAPTCHA_TEST_CODE must be digits"))
	}
	if v := env("SMS_TEST_OTP", ""); v != "" {
		c.TestOTP = map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			phone, code, ok := strings.Cut(strings.TrimSpace(pair), ":")
			p, valid := identity.NormalizePhone(phone)
			if !ok || !valid || len(code) != 6 || strings.Trim(code, "0123456789") != "" {
				errs = append(errs, errors.New("SMS_TEST_OTP must look like 13800138000:123456,…"))
				break
			}
			c.TestOTP[p] = code
		}
	}
	if v := env("SMS_TEST_OTP_VALID_UNTIL", ""); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, errors.New("SMS_TEST_OTP_VALID_UNTIL must be an RFC 3339 time"))
		}
		c.TestOTPValidUntil = t
	}
	if (c.Providers.WeChatAppID == "") != (c.Providers.WeChatSecret == "") {
		errs = append(errs, errors.New("WECHAT_APPID and WECHAT_SECRET go together"))
	}
	if (c.AdminPhone == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_PHONE and ADMIN_PASSWORD go together"))
	}
	var err error
	if c.TrustedProxies, err = web.ParseProxies(env("TRUSTED_PROXIES", "")); err != nil {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %w", err))
	}
	for _, o := range strings.Split(env("CORS_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if secret := env("SECRET_KEY", ""); secret != "" {
		if len(secret) < 32 {
			errs = append(errs, errors.New("SECRET_KEY must be at least 32 characters"))
		}
		c.Secret = []byte(secret)
	}

	if c.Production {
		if c.Secret == nil {
			errs = append(errs, errors.New("production needs SECRET_KEY"))
		}
		if c.PIIKeys == "" {
			errs = append(errs, errors.New("production needs PII_KEY"))
		}
		if c.CaptchaTestCode != "" {
			errs = append(errs, errors.New("production refuses CAPTCHA_TEST_CODE"))
		}
		if c.SMSProvider == "log" {
			errs = append(errs, errors.New("production refuses SMS_PROVIDER=log (it writes codes to the log)"))
		}
		if c.TestOTP != nil && c.TestOTPValidUntil.IsZero() {
			errs = append(errs, errors.New("production refuses SMS_TEST_OTP without SMS_TEST_OTP_VALID_UNTIL"))
		}
		if c.AdminPassword != "" && (len(c.AdminPassword) < 8 || identity.CommonPassword(c.AdminPassword)) {
			errs = append(errs, errors.New("production refuses a short or common (default) ADMIN_PASSWORD"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// developmentSecret returns the secret kept in DATA_DIR, creating it once.
func developmentSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 64 {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return []byte(secret), nil
}

// derive makes a sub-key of the secret for one purpose.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// vault builds the PII vault from PII_KEY, or in development from a key
// derived from the secret.
func (c *config) vault() (*identity.Vault, error) {
	spec := c.PIIKeys
	if spec == "" {
		spec = "dev:" + base64.StdEncoding.EncodeToString(derive(c.Secret, "pii-dev-key"))
	}
	return identity.ParseVaultKeys(spec, derive(c.Secret, "pii-index"))
}
