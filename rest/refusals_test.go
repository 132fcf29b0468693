package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCertificationInputsThatAreNotTheAgentsOwnAreRefused(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			a, other := c.newAgent(t), c.newAgent(t)
			front, qual := c.certificationImages(t, a)
			otherFront, _ := c.certificationImages(t, other)
			submit := func(change params) reply {
				p := params{"telephone": a.phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual}
				for k, v := range change {
					p[k] = v
				}
				return c.post(t, "/user/proxy/submitPUser", c.auth(a.token), p)
			}
			for _, tc := range []struct {
				name   string
				change params
			}{
				{"a foreign image URL", params{"frontImg": "https://evil.example/id.png"}},
				{"another agent's upload", params{"frontImg": otherFront}},
				{"the qualification photo as the ID photo", params{"frontImg": qual}},
				{"an ID number with a wrong check digit", params{"idNo": badCheckIDNo}},
				{"an ID number of 15 digits", params{"idNo": "110105491231002"}},
				{"an ID number born in the future", params{"idNo": "110105209912310010"}},
				{"an empty real name", params{"realName": ""}},
			} {
				t.Run(tc.name+" is refused with 2001", func(t *testing.T) {
					submit(tc.change).fails(t, 2001)
				})
			}
			if s := c.status(t, a); s != 0 {
				t.Fatalf("status %d after refused submissions, want 0", s)
			}
			submit(nil).ok(t)
		})
	}
}

func TestUploadsThatAreNotImagesAreRefusedWith2022(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			a := c.newAgent(t)
			d := c.newDealer(t)
			for _, tc := range []struct {
				name, filename string
				content        []byte
			}{
				{"a text file named x.png", "x.png", []byte("this is not an image, just text\n")},
				{"an HTML page named x.jpg", "x.jpg", []byte("<html><script>alert(1)</script></html>")},
				{"a GIF", "x.gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")},
				{"a truncated PNG", "x.png", pngImage(t)[:40]},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c.upload(t, "/user/proxy/uploadFrontImg", c.auth(a.token), params{"telephone": a.phone}, tc.filename, tc.content).fails(t, 2022)
					c.upload(t, "/user/dealer/uploadFavicon", c.auth(d.token), params{}, tc.filename, tc.content).fails(t, 2022)
				})
			}
		})
	}
}

func TestMalformedJSONIsRefusedWith2001OnEveryPath(t *testing.T) {
	c := newClient(t, false, false)
	for _, row := range documentedPaths() {
		t.Run(pathName(row.path), func(t *testing.T) {
			c.send(t, http.MethodPost, row.path, "application/json", "", strings.NewReader(`{"telephone":`)).fails(t, 2001)
		})
	}
}
