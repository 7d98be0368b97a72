//! A recorder that keeps every value, for assertions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// `(metric name, sorted labels)`.
type SeriesKey = (String, Vec<(String, String)>);

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

/// Captures counters, gauges, histograms and descriptions.
#[derive(Default)]
pub(crate) struct Capture {
    counters: Mutex<BTreeMap<SeriesKey, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<SeriesKey, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<SeriesKey, Arc<Samples>>>,
    descriptions: Mutex<Vec<(String, Option<Unit>)>>,
    registrations: AtomicU64,
}

fn series(key: &Key) -> SeriesKey {
    let mut labels: Vec<(String, String)> = key
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    labels.sort();
    (key.name().to_owned(), labels)
}

fn wanted(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    (name.to_owned(), labels)
}

impl Capture {
    /// The counter's value (`None`: never registered).
    pub(crate) fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        let map = self.counters.lock().unwrap();
        map.get(&wanted(name, labels))
            .map(|c| c.load(Ordering::Acquire))
    }

    /// The gauge's value.
    pub(crate) fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let map = self.gauges.lock().unwrap();
        map.get(&wanted(name, labels))
            .map(|g| f64::from_bits(g.load(Ordering::Acquire)))
    }

    /// The histogram's samples (empty: never registered).
    pub(crate) fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let map = self.histograms.lock().unwrap();
        map.get(&wanted(name, labels))
            .map(|h| h.0.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Every series of `name`, as `k=v,k=v` strings.
    pub(crate) fn series_of(&self, name: &str) -> Vec<String> {
        let render = |key: &SeriesKey| {
            key.1
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut out = Vec::new();
        for key in self.counters.lock().unwrap().keys() {
            if key.0 == name {
                out.push(render(key));
            }
        }
        for key in self.gauges.lock().unwrap().keys() {
            if key.0 == name {
                out.push(render(key));
            }
        }
        for key in self.histograms.lock().unwrap().keys() {
            if key.0 == name {
                out.push(render(key));
            }
        }
        out
    }

    /// The metrics described, in order.
    pub(crate) fn descriptions(&self) -> Vec<(String, Option<Unit>)> {
        self.descriptions.lock().unwrap().clone()
    }

    /// How many times a series was registered.
    pub(crate) fn registrations(&self) -> u64 {
        self.registrations.load(Ordering::Acquire)
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        self.descriptions
            .lock()
            .unwrap()
            .push((key.as_str().to_owned(), unit));
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registrations.fetch_add(1, Ordering::AcqRel);
        let cell = Arc::clone(
            self.counters
                .lock()
                .unwrap()
                .entry(series(key))
                .or_default(),
        );
        Counter::from_arc(cell)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registrations.fetch_add(1, Ordering::AcqRel);
        let cell = Arc::clone(self.gauges.lock().unwrap().entry(series(key)).or_default());
        Gauge::from_arc(cell)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registrations.fetch_add(1, Ordering::AcqRel);
        let cell = Arc::clone(
            self.histograms
                .lock()
                .unwrap()
                .entry(series(key))
                .or_default(),
        );
        Histogram::from_arc(cell)
    }
}
