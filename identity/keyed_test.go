package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"testing"
)

// Session token hashes are stored in the database and code digests in
// Redis: the pooled hashers must give the bytes the service always gave.
func TestKeyedHashesKeepTheirFormat(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s := &Service{secret: secret}
	s.macs.New = func() any { return hmac.New(sha256.New, s.secret) }
	want := func(msg string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	cases := []struct {
		got  []byte
		want []byte
	}{
		{s.tokenHash("tok"), want("session\x00tok")},
		{s.codeDigest(ChannelDealer, "13800138000", "device-1", "123456"), want("otp\x00DEALER\x0013800138000\x00device-1\x00123456")},
		{s.captchaDigest("device-1", " 4821 "), want("captcha\x00device-1\x004821")},
		{s.keyed("plain"), want("plain")},
	}
	for i, c := range cases {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("case %d: %x, want %x", i, c.got, c.want)
		}
	}
	// Concurrent use of the pool gives the same answers.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if !bytes.Equal(s.tokenHash("tok"), want("session\x00tok")) {
					t.Error("a pooled hasher gave another hash")
					return
				}
			}
		})
	}
	wg.Wait()
}
