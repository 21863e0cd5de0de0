// The registry-like workload of the id benchmarks (bench.mjs in Node,
// browser-bench.mjs in Chromium): one definition, so both time the same records.

/**
 * 1,000 distinct registry-like records made from the sample registry's
 * records (`seed/sample-registry.json`, parsed): varied serials, some decimal
 * and exponent quantities and padded names (as the Rust bench).
 */
export function registryRecords(sample, count = 1000) {
  const quantities = [100, 50, "150.25", "1.5E+3", 75.5, 200];
  return Array.from({ length: count }, (_, i) => {
    const base = sample[i % sample.length];
    return {
      ...base,
      project_name: i % 7 === 0 ? `  ${base.project_name} ` : base.project_name,
      quantity: quantities[i % quantities.length],
      serial_number: `${base.serial_number}-${i}`,
    };
  });
}
