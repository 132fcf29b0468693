package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

const fixture = `{"label":"otp","scenario":"otp","target":"http://127.0.0.1:18080","concurrency":16,"duration_s":10,"iterations":5000,"errors":0,"rps":500.5,"p50_ms":20,"p95_ms":40,"p99_ms":61.2}
{"label":"me","scenario":"me","target":"http://127.0.0.1:8080","concurrency":16,"duration_s":10,"iterations":30000,"errors":3,"rps":3000,"p50_ms":4,"p95_ms":8,"p99_ms":12.5}
`

func TestRender(t *testing.T) {
	d, err := load(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := render(&out, d, options{title: "t <&> test", names: []string{"baseline", "service"}, scale: "auto"}); err != nil {
		t.Fatal(err)
	}
	svg := out.String()

	dec := xml.NewDecoder(strings.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	for _, want := range []string{">otp<", ">me<", "baseline", "service", "3 err", "flows/s", "ms"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG does not mention %q", want)
		}
	}
}

func TestLoadEmpty(t *testing.T) {
	if _, err := load(strings.NewReader("not json\n{}\n")); err == nil {
		t.Fatal("want an error for input without results")
	}
}
