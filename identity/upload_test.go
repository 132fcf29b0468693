package identity_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"net/http/httptest"
	"testing"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// pngHeader is a PNG that claims width × height pixels: the header of a
// decompression bomb (the data never matters, it must not be decoded).
func pngHeader(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	b.WriteString("\x00\x00\x00\x00IEND\xaeB`\x82")
	return b.Bytes()
}

func TestUploadsAreCheckedAndReencoded(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha)
	auth := dealer(t, h, "13355550000", "upload passphrase")
	actor, err := h.Service.Authenticate(ctxFromIP("10.3.0.1"), auth.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.WithActor(ctxFromIP("10.3.0.1"), actor)
	upload := func(data []byte) error {
		_, err := h.Service.UploadImage(ctx, identity.UploadImageInput{Purpose: identity.PurposeAvatar, File: bytes.NewReader(data)})
		return err
	}

	t.Run("a decompression bomb is refused from its header", func(t *testing.T) {
		wantCode(t, upload(pngHeader(30000, 30000)), identity.CodeInvalidImage)
		wantCode(t, upload(pngHeader(10000, 10000)), identity.CodeInvalidImage)
	})
	t.Run("HTML or a script named as an image is refused", func(t *testing.T) {
		wantCode(t, upload([]byte("<svg onload=alert(1)></svg>")), identity.CodeInvalidImage)
		wantCode(t, upload([]byte("GIF89a....")), identity.CodeInvalidImage)
	})
	t.Run("a file over the limit is refused without reading it all", func(t *testing.T) {
		wantCode(t, upload(make([]byte, 6<<20)), identity.CodePayloadTooLarge)
	})
	t.Run("a JPEG is stored re-encoded, without its metadata", func(t *testing.T) {
		var src bytes.Buffer
		if err := jpeg.Encode(&src, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil); err != nil {
			t.Fatal(err)
		}
		// An APP1 (EXIF) segment with a GPS marker right after SOI.
		exif := append([]byte{0xff, 0xe1, 0x00, 0x10}, []byte("Exif\x00\x00GPS-SECRET")...)
		withExif := append(append([]byte{0xff, 0xd8}, exif...), src.Bytes()[2:]...)
		if _, err := jpeg.Decode(bytes.NewReader(withExif)); err != nil {
			t.Fatalf("test image is broken: %v", err)
		}
		img, err := h.Service.UploadImage(ctx, identity.UploadImageInput{Purpose: identity.PurposeAvatar, File: bytes.NewReader(withExif)})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.Files.ServeHTTP(rec, httptest.NewRequest("GET", img.URL, nil))
		stored := rec.Body.Bytes()
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/jpeg" {
			t.Fatalf("stored avatar: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		if bytes.Contains(stored, []byte("GPS-SECRET")) || bytes.Contains(stored, []byte("Exif")) {
			t.Fatal("the stored image kept its EXIF segment")
		}
	})
	t.Run("a small PNG is accepted", func(t *testing.T) {
		var b bytes.Buffer
		_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)))
		if err := upload(b.Bytes()); err != nil {
			t.Fatal(err)
		}
	})
}
