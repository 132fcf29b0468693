package sms_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/carcity/identity/adapters/sms"
)

// The example of Aliyun's "签名机制" page (dysmsapi SendSms, GET).
func TestSignAliyunMatchesPublishedExample(t *testing.T) {
	params := map[string]string{
		"AccessKeyId":      "testId",
		"Action":           "SendSms",
		"Format":           "XML",
		"OutId":            "123",
		"PhoneNumbers":     "15300000001",
		"RegionId":         "cn-hangzhou",
		"SignName":         "阿里云短信测试专用",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "45e25e9b-0a6f-4070-8c85-2956eda1b466",
		"SignatureVersion": "1.0",
		"TemplateCode":     "SMS_71390007",
		"TemplateParam":    `{"customer":"test"}`,
		"Timestamp":        "2017-07-12T02:42:19Z",
		"Version":          "2017-05-25",
	}
	const want = "zJDF+Lrzhj/ThnlvIToysFRq6t4="
	if got := sms.SignAliyun("GET", params, "testSecret"); got != want {
		t.Fatalf("SignAliyun = %q, want %q", got, want)
	}

	t.Run("a Signature parameter is not signed", func(t *testing.T) {
		params["Signature"] = "anything"
		if got := sms.SignAliyun("GET", params, "testSecret"); got != want {
			t.Fatalf("SignAliyun = %q, want %q", got, want)
		}
	})
}

// The example of Tencent Cloud's "签名方法 v3" page (cvm DescribeInstances).
func TestSignTC3MatchesPublishedExample(t *testing.T) {
	payload := []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`)
	const want = "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
	got := sms.SignTC3("Gu5t9xGARNpq86cd98joQYCN3*******", "cvm", "cvm.tencentcloudapi.com", 1551113065, payload, "application/json; charset=utf-8")
	if got != want {
		t.Fatalf("SignTC3 = %q, want %q", got, want)
	}
}

// The canonical query Aliyun signs must decode back to the original values,
// and use nothing but unreserved characters and %XX escapes.
func FuzzAliyunEncodingRoundTrips(f *testing.F) {
	for _, s := range []string{"", "a b", "*~+", "阿里云短信测试专用", `{"code":"123456"}`, "%7E", "2017-07-12T02:42:19Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig := sms.SignAliyun("POST", map[string]string{"K": s}, "secret")
		if sig == "" {
			t.Fatal("empty signature")
		}
		q := sms.AliyunCanonicalQuery(map[string]string{"K": s})
		enc := strings.TrimPrefix(q, "K=")
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			unreserved := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~%", c) >= 0
			if !unreserved {
				t.Fatalf("encoding of %q has %q", s, c)
			}
		}
		dec, err := url.PathUnescape(enc)
		if err != nil || dec != s {
			t.Fatalf("encoding of %q decodes to %q, %v", s, dec, err)
		}
	})
}
