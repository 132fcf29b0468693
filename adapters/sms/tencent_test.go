package sms_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/sms"
	"github.com/carcity/identity/identity"
)

const (
	tencentSecretID  = "AKID-test"
	tencentSecretKey = "tencent-key"
)

// newTencentFake is the SendSms API: it recomputes the TC3 signature from
// the headers and body it receives and answers according to the number.
func newTencentFake(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.URL.RawQuery != "" {
			t.Errorf("request %s %s, want POST /", r.Method, r.URL)
		}
		for k, want := range map[string]string{
			"Content-Type": "application/json; charset=utf-8", "X-TC-Action": "SendSms",
			"X-TC-Version": "2021-01-11", "X-TC-Region": "ap-guangzhou",
			"X-TC-Timestamp": strconv.FormatInt(fixedNow.Unix(), 10),
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}

		rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "TC3-HMAC-SHA256 ")
		if !ok {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		auth := map[string]string{}
		for part := range strings.SplitSeq(rest, ", ") {
			k, v, _ := strings.Cut(part, "=")
			auth[k] = v
		}
		ts, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		date := time.Unix(ts, 0).UTC().Format("2006-01-02")
		if want := tencentSecretID + "/" + date + "/sms/tc3_request"; auth["Credential"] != want {
			t.Errorf("Credential = %q, want %q", auth["Credential"], want)
		}
		if auth["SignedHeaders"] != "content-type;host" {
			t.Errorf("SignedHeaders = %q", auth["SignedHeaders"])
		}
		if want := sms.SignTC3(tencentSecretKey, "sms", r.Host, ts, body, r.Header.Get("Content-Type")); auth["Signature"] != want {
			t.Errorf("Signature = %q, want %q", auth["Signature"], want)
			_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad signature"},"RequestId":"req-sig"}}`))
			return
		}

		var in struct {
			PhoneNumberSet   []string
			SmsSdkAppID      string `json:"SmsSdkAppId"`
			SignName         string
			TemplateID       string `json:"TemplateId"`
			TemplateParamSet []string
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Errorf("decoding body: %v", err)
		}
		if in.SmsSdkAppID != "1400000000" || in.SignName != "车城" || len(in.PhoneNumberSet) != 1 {
			t.Errorf("body = %s", body)
		}
		switch in.TemplateID {
		case "1001":
			if !slices.Equal(in.TemplateParamSet, []string{testCode}) {
				t.Errorf("TemplateParamSet = %q", in.TemplateParamSet)
			}
		case "1002":
			if in.TemplateParamSet != nil {
				t.Errorf("notice has TemplateParamSet %q", in.TemplateParamSet)
			}
		default:
			t.Errorf("TemplateId = %q", in.TemplateID)
		}

		status := func(code string) {
			_, _ = w.Write([]byte(`{"Response":{"SendStatusSet":[{"SerialNo":"` + serialFor(code) + `","PhoneNumber":"` +
				in.PhoneNumberSet[0] + `","Fee":1,"SessionContext":"","Code":"` + code + `","Message":"msg","IsoCode":"CN"}],"RequestId":"req-1"}}`))
		}
		failure := func(code string) {
			_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"` + code + `","Message":"msg"},"RequestId":"req-2"}}`))
		}
		switch in.PhoneNumberSet[0] {
		case "+8613800000000":
			status("Ok")
		case "+8613800000001":
			status("LimitExceeded.PhoneNumberDailyLimit")
		case "+8613800000002":
			failure("LimitExceeded.PhoneNumberThirtySecondLimit")
		case "+8613800000003":
			status("InvalidParameterValue.IncorrectPhoneNumber")
		case "+8613800000004":
			failure("FailedOperation.PhoneNumberParseFail")
		case "+8613800000005":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("internal error"))
		case "+8613800000006":
			_, _ = w.Write([]byte("<html>garbage"))
		case "+8613800000007":
			failure("InternalError.Timeout")
		case "+8613800000008":
			status("FailedOperation.InsufficientBalanceInSmsPackage")
		case "+8613800000009":
			_, _ = w.Write([]byte(`{"Response":{"RequestId":"req-3"}}`))
		default:
			t.Errorf("PhoneNumberSet = %q", in.PhoneNumberSet)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func serialFor(code string) string {
	if code == "Ok" {
		return "2019:-8111111"
	}
	return ""
}

func newTestTencent(t *testing.T, endpoint string, client *http.Client) (*sms.Tencent, *syncBuffer) {
	t.Helper()
	tc := sms.NewTencent(sms.TencentConfig{
		SecretID:         tencentSecretID,
		SecretKey:        tencentSecretKey,
		SDKAppID:         "1400000000",
		SignName:         "车城",
		TemplateID:       "1001",
		NoticeTemplateID: "1002",
		Endpoint:         endpoint,
	}, client)
	tc.Now = fixedClock
	logger, logs := MustCaptureLogs(t)
	tc.Logger = logger
	return tc, logs
}

func TestTencentSend(t *testing.T) {
	srv := newTencentFake(t)
	tc, logs := newTestTencent(t, srv.URL, srv.Client())
	for _, c := range []sendCase{
		{"a code is sent and its SerialNo returned", "13800000000", identity.SMSPurposeCode, "2019:-8111111", ""},
		{"an E.164 number passes through", "+8613800000000", identity.SMSPurposeCode, "2019:-8111111", ""},
		{"a notice uses the notice template without parameters", "13800000000", identity.SMSPurposeNotice, "2019:-8111111", ""},
		{"a per-number phone limit is a rate limit", "13800000001", identity.SMSPurposeCode, "", identity.CodeRateLimited},
		{"a request-level phone limit is a rate limit", "13800000002", identity.SMSPurposeCode, "", identity.CodeRateLimited},
		{"an incorrect number is a validation error", "13800000003", identity.SMSPurposeCode, "", identity.CodeValidation},
		{"an unparsable number is a validation error", "13800000004", identity.SMSPurposeCode, "", identity.CodeValidation},
		{"HTTP 500 is unavailable", "13800000005", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"a garbage body is unavailable", "13800000006", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"any other error is unavailable", "13800000007", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"any other per-number code is unavailable", "13800000008", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"an answer without status is unavailable", "13800000009", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) { checkSend(t, tc, c) })
	}

	t.Run("the log has request and serial numbers but never the code", func(t *testing.T) {
		out := logs.String()
		if strings.Contains(out, testCode) {
			t.Errorf("log contains the code:\n%s", out)
		}
		for _, want := range []string{"req-1", "2019:-8111111", "LimitExceeded.PhoneNumberThirtySecondLimit"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestTencentTimeoutIsUnavailable(t *testing.T) {
	srv := MustHang(t)
	tc, _ := newTestTencent(t, srv.URL, &http.Client{Timeout: 50 * time.Millisecond})
	checkSend(t, tc, sendCase{telephone: "13800000000", purpose: identity.SMSPurposeCode, wantCode: identity.CodeSMSUnavailable})
}
