/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))]
  const numeric = headers.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'))
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => [...row[column]].length)))
  const line = (row: string[]) =>
    row
      .map((cell, column) => {
        const pad = ' '.repeat(widths[column] - [...cell].length)
        return numeric[column] ? pad + cell : cell + pad
      })
      .join('  ')
      .trimEnd()
  return [line(cells[0]), line(widths.map((width) => '─'.repeat(width))), ...cells.slice(1).map(line)].join('\n') + '\n'
}

/** A horizontal bar chart for the terminal. */
export function renderBars(rows: { label: string; value: number }[], width = 40): string {
  const max = Math.max(1, ...rows.map((row) => row.value))
  const labelWidth = Math.max(...rows.map((row) => [...row.label].length))
  return rows
    .map((row) => {
      const bar = '█'.repeat(Math.round((row.value / max) * width))
      return `${row.label.padEnd(labelWidth)}  ${bar}${bar ? ' ' : ''}${row.value}`
    })
    .join('\n') + '\n'
}
