package identity_test

import (
	"bytes"
	"context"
	"image/png"
	"testing"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

func TestCaptchaImagesArePNGsOfTheDocumentedSize(t *testing.T) {
	h := identitytest.NewService(t)
	ctx := context.Background()
	for range 3 { // the encoder's buffers are reused
		c, err := h.Service.SendCaptcha(ctx, identity.SendCaptchaInput{DeviceID: "d-" + t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		served, err := h.Service.CaptchaImage(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(served, c.ImagePNG) {
			t.Fatal("the served image differs from the issued one")
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(served))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if cfg.Width != 240 || cfg.Height != 80 {
			t.Errorf("image is %dx%d, want 240x80", cfg.Width, cfg.Height)
		}
	}
}
