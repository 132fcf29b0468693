// Command chart draws the perf kit's results as an SVG: grouped bars of
// median throughput per scenario for each target (A = baseline, B = the
// service, in order of first appearance in the file, as the kit's report
// tool orders them), and a second panel of median p99 latency.
//
//	go run ./bench/chart -in results.jsonl -out latest.svg
//
// The input is the loadgen's JSON lines (fields label, scenario, target, rps,
// p99_ms, errors, concurrency, duration_s); rows are keyed by label, or by
// scenario when the label is empty, exactly like the kit's report tool.
// Standard library only; the SVG needs no external assets.
package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"sort"
	"strings"
)

// line is one loadgen result (see /work/shared/perf/loadgen).
type line struct {
	Label       string  `json:"label"`
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	Errors      int     `json:"errors"`
	RPS         float64 `json:"rps"`
	P99         float64 `json:"p99_ms"`
}

// cell is the medians of one scenario on one target.
type cell struct {
	ok          bool
	runs        int
	rps, p99    float64
	errors      int
	concurrency int
}

// dataset is the results grouped by scenario (rows) and target (columns).
type dataset struct {
	scenarios []string
	targets   []string
	cells     map[[2]string]*cell
	duration  float64
	runs      int
}

func (d *dataset) cell(scenario, target string) *cell {
	if c := d.cells[[2]string{scenario, target}]; c != nil {
		return c
	}
	return &cell{}
}

// load reads JSON lines; lines that are not results (no scenario) are skipped.
func load(r io.Reader) (*dataset, error) {
	d := &dataset{cells: map[[2]string]*cell{}}
	runs := map[[2]string][]line{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Scenario == "" {
			continue
		}
		row := l.Label
		if row == "" {
			row = l.Scenario
		}
		if !contains(d.scenarios, row) {
			d.scenarios = append(d.scenarios, row)
		}
		if !contains(d.targets, l.Target) {
			d.targets = append(d.targets, l.Target)
		}
		k := [2]string{row, l.Target}
		runs[k] = append(runs[k], l)
		d.duration = math.Max(d.duration, l.DurationS)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, errors.New("no loadgen results in the input")
	}
	for k, ls := range runs {
		c := &cell{ok: true, runs: len(ls)}
		c.rps = median(ls, func(l line) float64 { return l.RPS })
		c.p99 = median(ls, func(l line) float64 { return l.P99 })
		for _, l := range ls {
			c.errors += l.Errors
			c.concurrency = max(c.concurrency, l.Concurrency)
		}
		d.cells[k] = c
		d.runs = max(d.runs, len(ls))
	}
	return d, nil
}

func median(ls []line, f func(line) float64) float64 {
	v := make([]float64, len(ls))
	for i, l := range ls {
		v[i] = f(l)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// options change the drawing.
type options struct {
	title string
	names []string // target names after the letter: "baseline", "service"
	scale string   // auto | linear | log
}

var palette = []string{"#9aa5b1", "#2f6fde", "#e8893a", "#3aa57a", "#a35bd6", "#d64b5b"}

const (
	width     = 960
	marginL   = 86
	marginR   = 24
	panelH    = 300
	panelGap  = 92
	topH      = 96
	bottomPad = 16
)

// render writes the SVG.
func render(w io.Writer, d *dataset, o options) error {
	var b strings.Builder
	height := topH + 2*panelH + panelGap + bottomPad
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)

	title := o.title
	if title == "" {
		title = "Load test"
	}
	sub := fmt.Sprintf("medians over %d run(s)", d.runs)
	if d.duration > 0 {
		sub += fmt.Sprintf(" of %.0f s", d.duration)
	}
	if c := d.concurrency(); c > 0 {
		sub += fmt.Sprintf(", %d clients", c)
	}
	text(&b, marginL, 26, title, `font-size="17" font-weight="600"`)
	text(&b, marginL, 46, sub, `fill="#555"`)

	// Legend.
	x := float64(marginL)
	for i, t := range d.targets {
		name := string(rune('A'+i)) + " " + t
		if i < len(o.names) && o.names[i] != "" {
			name = string(rune('A'+i)) + " = " + o.names[i] + " (" + t + ")"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="60" width="14" height="14" rx="2" fill="%s"/>`+"\n", x, color(i))
		text(&b, x+20, 72, name, "")
		x += 20 + float64(len(name))*6.6 + 28
	}

	top := float64(topH)
	panel(&b, d, o, top, "Throughput (successful flows/s, higher is better)", "flows/s",
		func(c *cell) float64 { return c.rps }, true)
	panel(&b, d, o, top+panelH+panelGap, "p99 latency (ms, lower is better)", "ms",
		func(c *cell) float64 { return c.p99 }, false)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (d *dataset) concurrency() int {
	c := 0
	for _, x := range d.cells {
		c = max(c, x.concurrency)
	}
	return c
}

func color(i int) string { return palette[i%len(palette)] }

// panel draws one bar chart with its top edge at y0.
func panel(b *strings.Builder, d *dataset, o options, y0 float64, title, unit string, val func(*cell) float64, ratios bool) {
	plotTop := y0 + 22
	plotH := float64(panelH) - 22 - 34 // room for the title above and labels below
	plotBottom := plotTop + plotH
	plotW := float64(width - marginL - marginR)
	text(b, marginL, y0+8, title, `font-size="14" font-weight="600"`)

	// Value range and scale.
	lo, hi := math.Inf(1), 0.0
	for _, s := range d.scenarios {
		for _, t := range d.targets {
			if c := d.cell(s, t); c.ok && val(c) > 0 {
				lo, hi = math.Min(lo, val(c)), math.Max(hi, val(c))
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 1
	}
	logScale := o.scale == "log" || (o.scale != "linear" && hi/lo > 50)
	var yOf func(v float64) float64
	var ticks []float64
	if logScale {
		lmin := math.Floor(math.Log10(lo))
		if math.Log10(lo)-lmin < 0.3 { // keep the smallest bar visible
			lmin--
		}
		lmax := math.Ceil(math.Log10(hi))
		if lmax == lmin {
			lmax++
		}
		yOf = func(v float64) float64 {
			if v <= 0 {
				return plotBottom
			}
			f := (math.Log10(v) - lmin) / (lmax - lmin)
			return plotBottom - math.Max(0, f)*plotH
		}
		for e := lmin; e <= lmax; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
		text(b, width-marginR, y0+8, "log scale", `text-anchor="end" fill="#777" font-style="italic"`)
	} else {
		step := niceStep(hi / 5)
		top := math.Ceil(hi/step) * step
		if top < hi*1.08 { // headroom for the value labels
			top += step
		}
		yOf = func(v float64) float64 { return plotBottom - v/top*plotH }
		for v := 0.0; v <= top+step/2; v += step {
			ticks = append(ticks, v)
		}
	}

	// Grid, ticks and the axis label.
	for _, v := range ticks {
		y := yOf(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e6ea"/>`+"\n", marginL, y, width-marginR, y)
		text(b, marginL-8, y+4, num(v), `text-anchor="end" fill="#555"`)
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", marginL, plotTop, marginL, plotBottom)
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", marginL, plotBottom, width-marginR, plotBottom)
	fmt.Fprintf(b, `<text x="%d" y="%.1f" transform="rotate(-90 %d %.1f)" text-anchor="middle" fill="#333">%s</text>`+"\n",
		22, plotTop+plotH/2, 22, plotTop+plotH/2, esc(unit))

	// Bars.
	groupW := plotW / float64(len(d.scenarios))
	barW := math.Min(64, groupW*0.76/float64(len(d.targets)))
	for i, s := range d.scenarios {
		gx := float64(marginL) + groupW*float64(i)
		x0 := gx + (groupW-barW*float64(len(d.targets)))/2
		for j, t := range d.targets {
			c := d.cell(s, t)
			x := x0 + barW*float64(j)
			if !c.ok {
				text(b, x+barW/2, plotBottom-4, "–", `text-anchor="middle" fill="#999"`)
				continue
			}
			y := yOf(val(c))
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				x+1, y, barW-2, plotBottom-y, color(j),
				esc(fmt.Sprintf("%s on %c (%s): %s %s, %d run(s), %d errors", s, 'A'+j, t, num(val(c)), unit, c.runs, c.errors)))
			text(b, x+barW/2, y-4, num(val(c)), `text-anchor="middle" fill="#222" font-size="11"`)
			if c.errors > 0 {
				text(b, x+barW/2, y-17, fmt.Sprintf("%d err", c.errors), `text-anchor="middle" fill="#c62828" font-size="11" font-weight="600"`)
			}
		}
		label := s
		if ratios && len(d.targets) == 2 {
			a, bb := d.cell(s, d.targets[0]), d.cell(s, d.targets[1])
			if a.ok && bb.ok && a.rps > 0 {
				text(b, gx+groupW/2, plotBottom+32, fmt.Sprintf("B/A %.2f", bb.rps/a.rps), `text-anchor="middle" fill="#555" font-size="11"`)
			}
		}
		text(b, gx+groupW/2, plotBottom+17, label, `text-anchor="middle" font-size="13" fill="#222"`)
	}
}

// niceStep rounds a raw step up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// num formats a value compactly: 1234, 56.7, 0.89, 12k.
func num(v float64) string {
	switch {
	case v >= 100000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	case v == 0:
		return "0"
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	}
}

func text(b *strings.Builder, x, y float64, s, attrs string) {
	if attrs != "" {
		attrs = " " + attrs
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f"%s>%s</text>`+"\n", x, y, attrs, esc(s))
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func main() {
	in := flag.String("in", "", "loadgen JSON lines (default: stdin)")
	out := flag.String("out", "", "SVG file to write (default: stdout)")
	title := flag.String("title", "Identity service vs. hand-written baseline", "chart title")
	names := flag.String("names", "baseline,service", "comma-separated names of the targets A, B, … in order of appearance")
	scale := flag.String("scale", "auto", "y scale: auto (log when values span more than 50x), linear or log")
	flag.Parse()
	log.SetFlags(0)
	if *scale != "auto" && *scale != "linear" && *scale != "log" {
		log.Fatalf("chart: -scale must be auto, linear or log")
	}

	var r io.Reader = os.Stdin
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			log.Fatalf("chart: %v", err)
		}
		defer f.Close()
		r = f
	}
	d, err := load(r)
	if err != nil {
		log.Fatalf("chart: %v", err)
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			log.Fatalf("chart: %v", err)
		}
		w = f
	}
	if err := render(w, d, options{title: *title, names: strings.Split(*names, ","), scale: *scale}); err != nil {
		log.Fatalf("chart: %v", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			log.Fatalf("chart: %v", err)
		}
	}
}
