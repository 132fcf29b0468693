package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"strings"
	"sync"
	"time"

	"github.com/dchest/captcha"
)

// SendCaptchaInput asks for an image captcha for a device.
type SendCaptchaInput struct {
	DeviceID string `json:"deviceId" validate:"required,max=128,printable"`
}

// Captcha is an issued image captcha. The image is served at ImageURL and
// also given inline as a data: URL.
type Captcha struct {
	ID        string    `json:"id"`
	ImageURL  string    `json:"imageUrl"`
	ImagePNG  []byte    `json:"-"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// DataURL is the image as a data: URL.
func (c *Captcha) DataURL() string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(c.ImagePNG)
}

// VerifyCaptchaInput answers the captcha of a device.
type VerifyCaptchaInput struct {
	DeviceID string `json:"deviceId" validate:"required,max=128,printable"`
	Answer   string `json:"answer" validate:"required,max=16"`
}

const captchaImagePrefix = "captcha:img:"

// captchaKey names a device's captcha; device ids are client-chosen, so
// they are hashed into the key.
func (s *Service) captchaKey(deviceID string) string {
	return "captcha:{" + s.shortHash(deviceID) + "}"
}

func (s *Service) captchaDigest(deviceID, answer string) []byte {
	return s.keyed("captcha", deviceID, strings.TrimSpace(answer))
}

// captchaEncoder reuses its compressor: png.Encode allocates about 1 MB per
// image. The fastest level costs a few hundred bytes per image and a tenth
// of the time.
var captchaEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

type pngBuffers struct{ pool sync.Pool }

func (p *pngBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }

// SendCaptcha issues a new captcha for the device, replacing its previous one.
//
// Errors: CodeValidation, CodeRateLimited, CodeUnavailable.
func (s *Service) SendCaptcha(ctx context.Context, in SendCaptchaInput) (*Captcha, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	if err := s.take(ctx, randomHex(8), Limit{Key: s.captchaKey(in.DeviceID) + ":min", Max: 20, Window: time.Minute}); err != nil {
		return nil, err
	}
	answer := s.cfg.CaptchaTestCode
	if answer == "" {
		answer = randomDigits(s.cfg.CaptchaLength)
	}
	digits := make([]byte, len(answer))
	for i := range answer {
		digits[i] = answer[i] - '0'
	}
	id := randomHex(16)
	var image bytes.Buffer
	if err := captchaEncoder.Encode(&image, captcha.NewImage(id, digits, 240, 80).Paletted); err != nil {
		return nil, fmt.Errorf("drawing captcha: %w", err)
	}
	ttl := s.cfg.CaptchaTTL
	if err := s.codes.Put(ctx, s.captchaKey(in.DeviceID), s.captchaDigest(in.DeviceID, answer), ttl); err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("storing captcha: %w", err))
	}
	if err := s.cache.Set(ctx, captchaImagePrefix+id, image.Bytes(), ttl); err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("storing captcha image: %w", err))
	}
	return &Captcha{ID: id, ImageURL: s.baseURL(ctx) + "/captcha/" + id + ".png", ImagePNG: image.Bytes(), ExpiresAt: s.now().Add(ttl)}, nil
}

// CaptchaImage returns the PNG of an issued captcha.
//
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) CaptchaImage(ctx context.Context, id string) ([]byte, error) {
	if len(id) != 32 {
		return nil, E(CodeNotFound)
	}
	png, found, err := s.cache.Get(ctx, captchaImagePrefix+id)
	if err != nil {
		return nil, Wrap(CodeUnavailable, err)
	}
	if !found {
		return nil, E(CodeNotFound)
	}
	return png, nil
}

// VerifyCaptcha checks the answer once: right or wrong, it cannot be
// verified again, but a right answer can still be repeated once to register.
//
// Errors: CodeValidation, CodeCaptchaInvalid, CodeUnavailable.
func (s *Service) VerifyCaptcha(ctx context.Context, in VerifyCaptchaInput) (bool, error) {
	if err := check(in); err != nil {
		return false, err
	}
	if err := s.checkCaptcha(ctx, in.DeviceID, in.Answer, Verify); err != nil {
		return false, err
	}
	// Lets one SMS code past a busy IP's threshold (see passCaptcha).
	passed := s.captchaKey(in.DeviceID) + ":passed"
	if err := s.codes.Put(ctx, passed, s.captchaDigest(in.DeviceID, "passed"), s.cfg.CaptchaTTL); err != nil {
		return false, Wrap(CodeUnavailable, err)
	}
	return true, nil
}

func (s *Service) checkCaptcha(ctx context.Context, deviceID, answer string, mode CheckMode) error {
	res, err := s.codes.Check(ctx, s.captchaKey(deviceID), s.captchaDigest(deviceID, answer), mode, 1)
	if err != nil {
		return Wrap(CodeUnavailable, fmt.Errorf("checking captcha: %w", err))
	}
	if res != Accepted {
		return E(CodeCaptchaInvalid)
	}
	return nil
}
