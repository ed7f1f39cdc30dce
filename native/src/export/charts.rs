//! Charts as files: a [`GuidedChart`] (a `core::chart` spec and its reference lines) drawn by
//! the same plotters code the browser viewer uses, to SVG text or PNG bytes.
//!
//! Text is laid out with the metrics of DejaVu Sans, embedded in the binary
//! (`native/assets/DejaVuSans.ttf`, with its license beside it), and PNG glyphs are
//! rasterized from it, so a PNG has readable text on a machine without any system font. The
//! font is used through [`GlyphBackend`], a wrapper around any plotters backend, rather than
//! plotters' `ab_glyph` feature: that feature swaps the font engine of every plotters user in
//! the build (the core's SVG tests included) for one that fails without a registered font.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use anyhow::{Context, Result, anyhow};
use cpbench_core::chart::DrawOptions;
use cpbench_core::chart::draw::draw_guided;
use cpbench_core::chart::guide::GuidedChart;
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};
use std::sync::LazyLock;

/// The embedded font (DejaVu Sans, Bitstream Vera license; see `assets/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

static FONT: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(FONT_BYTES).expect("the embedded DejaVu Sans is a valid TrueType font")
});

/// The font family written into SVG text: the embedded font's name first, so a viewer that
/// has it draws exactly what was laid out, then any sans-serif.
pub const FONT_FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

/// Layout size of every chart, in CSS pixels.
pub const CHART_SIZE: (u32, u32) = (800, 440);

/// Device pixels per layout pixel of the PNG charts.
pub const PNG_SCALE: f64 = 1.5;

/// plotters' text size is 1.24 times the em size (its SVG backend writes `size / 1.24` as the
/// font size); the glyphs are scaled the same way.
const SIZE_PER_EM: f64 = 1.24;

/// Width and em height, in pixels, of `text` at plotters text size `size`.
fn text_extent(text: &str, size: f64) -> (f64, f64) {
    let em = size / SIZE_PER_EM;
    let font = FONT.as_scaled(px_scale(em));
    let mut width = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    (f64::from(width), em)
}

/// The ab_glyph scale that draws glyphs at `em` pixels per em (ab_glyph scales by the
/// font's ascent-to-descent height, not by its em).
fn px_scale(em: f64) -> PxScale {
    let units_per_em = FONT.units_per_em().unwrap_or(2048.0);
    PxScale::from(em as f32 * FONT.height_unscaled() / units_per_em)
}

/// A plotters backend that measures text with the embedded font and, when `rasterize` is
/// set, draws text as anti-aliased glyph pixels (for bitmap backends); otherwise text is
/// handed to the inner backend (SVG writes `<text>` elements). Everything else is the inner
/// backend's.
pub struct GlyphBackend<B> {
    inner: B,
    rasterize: bool,
}

impl<B: DrawingBackend> GlyphBackend<B> {
    /// Wraps `inner`; `rasterize` draws glyphs as pixels.
    pub fn new(inner: B, rasterize: bool) -> Self {
        Self { inner, rasterize }
    }
}

impl<B: DrawingBackend> DrawingBackend for GlyphBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (w, h) = text_extent(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if !self.rasterize {
            return self.inner.draw_text(text, style, pos);
        }
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (width, em) = text_extent(text, style.size());
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // The baseline where plotters' SVG backend puts it (dy of 0.76em, 0.5ex, -0.5ex), so
        // the PNG and the SVG of a chart agree.
        // Half an ex: DejaVu Sans' x-height is 1120 of 2048 units per em.
        let half_ex = 0.273 * em;
        let baseline = match anchor.v_pos {
            VPos::Top => 0.76 * em,
            VPos::Center => half_ex,
            VPos::Bottom => -half_ex,
        };
        // Offsets from the anchor rotate as the SVG backend rotates text (about the anchor).
        let trans = style.transform();
        let font = FONT.as_scaled(px_scale(em));
        let (w, h) = self.inner.get_size();
        let mut x = dx as f32;
        let mut prev = None;
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                x += font.kern(p, id);
            }
            let glyph =
                id.with_scale_and_position(font.scale(), ab_glyph::point(x, baseline as f32));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    if coverage > 0.0 {
                        pixels.push((
                            b.min.x as i32 + gx as i32,
                            b.min.y as i32 + gy as i32,
                            coverage.min(1.0),
                        ));
                    }
                });
            }
            x += font.h_advance(id);
            prev = Some(id);
        }
        for (ox, oy, coverage) in pixels {
            let (tx, ty) = trans.transform(ox, oy);
            let (px, py) = (pos.0 + tx, pos.1 + ty);
            if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                self.inner.draw_pixel(
                    (px, py),
                    BackendColor {
                        alpha: color.alpha * f64::from(coverage),
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}

fn options(title: bool, scale: f64) -> DrawOptions {
    DrawOptions {
        hidden: Vec::new(),
        title,
        legend: true,
        scale,
        font_family: FONT_FAMILY.into(),
    }
}

/// The chart as an SVG document of [`CHART_SIZE`]; with `title`, the spec's title is drawn
/// above it (files), without it the page around the chart shows the title (HTML). Every text
/// from the result is escaped by the SVG backend.
pub fn render_svg(chart: &GuidedChart, title: bool) -> Result<String> {
    let mut out = String::new();
    {
        let backend = GlyphBackend::new(SVGBackend::with_string(&mut out, CHART_SIZE), false);
        let root = backend.into_drawing_area();
        draw_guided(&root, chart, &options(title, 1.0))
            .map_err(|e| anyhow!("drawing chart {}: {e}", chart.spec.id))?;
        root.present()
            .map_err(|e| anyhow!("finishing chart {}: {e}", chart.spec.id))?;
    }
    Ok(out)
}

/// The chart as a PNG of [`CHART_SIZE`] times [`PNG_SCALE`], title drawn, text rasterized
/// from the embedded font.
pub fn render_png(chart: &GuidedChart) -> Result<Vec<u8>> {
    let w = (f64::from(CHART_SIZE.0) * PNG_SCALE).round() as u32;
    let h = (f64::from(CHART_SIZE.1) * PNG_SCALE).round() as u32;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let backend = GlyphBackend::new(BitMapBackend::with_buffer(&mut rgb, (w, h)), true);
        let root = backend.into_drawing_area();
        draw_guided(&root, chart, &options(true, PNG_SCALE))
            .map_err(|e| anyhow!("drawing chart {}: {e}", chart.spec.id))?;
        root.present()
            .map_err(|e| anyhow!("finishing chart {}: {e}", chart.spec.id))?;
    }
    encode_png(&rgb, w, h).with_context(|| format!("encoding chart {} as PNG", chart.spec.id))
}

/// 8-bit RGB pixels as a PNG file.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbench_core::chart::guide::Guide;
    use cpbench_core::chart::{Axis, ChartKind, ChartSpec, Point, Series, color};

    fn chart() -> GuidedChart {
        GuidedChart {
            spec: ChartSpec {
                id: "t".into(),
                title: "Throughput <&>".into(),
                note: String::new(),
                kind: ChartKind::Bars {
                    categories: vec!["a".into(), "b".into()],
                },
                x: Axis::new("", ""),
                y: Axis::new("Requests", "req/s"),
                series: vec![
                    Series {
                        name: "fifo".into(),
                        color: color(0),
                        points: vec![Point::new(0.0, 10.0), Point::new(1.0, 5.0)],
                    },
                    Series {
                        name: "<script>alert(1)</script>".into(),
                        color: color(1),
                        points: vec![Point::new(0.0, 7.0)],
                    },
                ],
            },
            guides: vec![Guide::Horizontal {
                y: 8.0,
                label: "target".into(),
            }],
        }
    }

    #[test]
    fn text_is_measured_with_the_embedded_font() {
        let (w1, h) = text_extent("i", 12.4);
        let (w2, _) = text_extent("WWW", 12.4);
        assert!((h - 10.0).abs() < 1e-9);
        assert!(w1 > 1.0 && w2 > 8.0 * w1, "{w1} {w2}");
        // DejaVu Sans advances: 'W' is 2025 units of 2048 per em.
        let (w, _) = text_extent("W", SIZE_PER_EM * 100.0);
        assert!((w - 2025.0 / 2048.0 * 100.0).abs() < 1.5, "{w}");
    }

    #[test]
    fn svg_escapes_result_text_and_draws_guides() {
        let svg = render_svg(&chart(), true).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!svg.contains("<script"));
        assert!(svg.contains("Throughput &lt;&amp;&gt;"));
        assert!(svg.contains(">\ntarget\n<"), "guide label");
        assert!(svg.contains("DejaVu Sans"));
        let untitled = render_svg(&chart(), false).unwrap();
        assert!(!untitled.contains("Throughput &lt;"));
    }

    #[test]
    fn png_has_the_size_and_dark_text_pixels() {
        let png_bytes = render_png(&chart()).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1200, 660));
        // The title is drawn in black at the top centre: some dark pixels in the top band.
        let row_bytes = info.width as usize * 3;
        let dark = buf[..row_bytes * 40]
            .chunks(3)
            .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
            .count();
        assert!(dark > 100, "title glyphs rasterized: {dark} dark pixels");
    }
}
