//! Published statistics without people in them (the BA's national
//! figures): a count of 1 to 4 people is shown as "< 5" (primary
//! suppression; 0 is shown), and further cells are kept back (secondary
//! suppression) until no kept-back cell follows from the published cells
//! and the sums of rows, columns and totals. Rates are shown only over at
//! least five people whose counts are both published.
//!
//! A table is a grid of counts — rows such as the job centers, columns a
//! partition such as the final dispositions — published with its row
//! totals, column totals and grand total. Seen as equations, every row,
//! every column, the column of row totals and the row of column totals
//! each sum to a published or kept-back total; the kept-back cells are the
//! unknowns. Joining rows and columns by the kept-back cells between them
//! gives a bipartite graph whose equations sit at its vertices, and a
//! kept-back cell can be computed exactly when it lies on no cycle of that
//! graph (it is a bridge): the differences along a cycle are what the
//! equations can't tell apart. So the secondary suppression closes a cycle
//! through every bridge, along the cheapest path of cells (small counts
//! first, zeros and totals last). Tables published for the same week share
//! their column totals and grand total (the national figures), and a total
//! kept back in one is kept back in all.

/// The smallest count of people shown as a number (other than 0).
pub const MIN_COUNT: u64 = 5;

/// A cell as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(u64),
    /// 1 to 4 people.
    Small,
    /// Kept back so that no small cell can be computed from the others.
    Hidden,
}

impl Cell {
    /// What the table shows: the number, "< 5" or "*" (the BA's mark for
    /// figures kept back for confidentiality, explained below each table).
    pub fn label(&self) -> String {
        match self {
            Cell::Shown(n) => n.to_string(),
            Cell::Small => format!("< {MIN_COUNT}"),
            Cell::Hidden => "*".to_string(),
        }
    }

    pub fn shown(&self) -> Option<u64> {
        match self {
            Cell::Shown(n) => Some(*n),
            _ => None,
        }
    }
}

/// The legend under a table with kept-back cells.
pub const LEGEND: &str = "< 5: weniger als fünf Personen. *: aus Gründen der statistischen Geheimhaltung nicht ausgewiesen, weil sich sonst ein kleinerer Wert errechnen ließe.";

/// `numerator / denominator` where both are published and the denominator
/// counts at least [`MIN_COUNT`] people; otherwise not shown.
pub fn rate(numerator: Cell, denominator: Cell) -> Option<f64> {
    match (numerator, denominator) {
        (Cell::Shown(n), Cell::Shown(d)) if d >= MIN_COUNT => Some(n as f64 / d as f64),
        _ => None,
    }
}

/// A table as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub column_totals: Vec<Cell>,
    pub total: Cell,
}

/// One table with its totals as one grid: the last row holds the column
/// totals, the last column the row totals.
struct Grid {
    values: Vec<Vec<u64>>,
    kept: Vec<Vec<bool>>,
}

impl Grid {
    fn new(counts: &[Vec<u64>], columns: usize) -> Grid {
        let mut values: Vec<Vec<u64>> = counts
            .iter()
            .map(|row| {
                let mut row: Vec<u64> = (0..columns)
                    .map(|j| row.get(j).copied().unwrap_or(0))
                    .collect();
                row.push(row.iter().sum());
                row
            })
            .collect();
        let totals: Vec<u64> = (0..=columns)
            .map(|j| values.iter().map(|row| row[j]).sum())
            .collect();
        values.push(totals);
        let kept = values
            .iter()
            .map(|row| row.iter().map(|v| (1..MIN_COUNT).contains(v)).collect())
            .collect();
        Grid { values, kept }
    }

    fn rows(&self) -> usize {
        self.values.len()
    }

    fn columns(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The vertex of row `i` and of column `j` in the graph of kept cells.
    fn vertex_of_column(&self, j: usize) -> usize {
        self.rows() + j
    }

    /// A kept cell that could be computed (a bridge), if there is one.
    fn bridge(&self) -> Option<(usize, usize)> {
        let (rows, columns) = (self.rows(), self.columns());
        let vertices = rows + columns;
        let mut adjacent: Vec<Vec<(usize, usize)>> = vec![Vec::new(); vertices];
        let mut edges = Vec::new();
        for i in 0..rows {
            for j in 0..columns {
                if self.kept[i][j] {
                    let id = edges.len();
                    edges.push((i, j));
                    adjacent[i].push((self.vertex_of_column(j), id));
                    adjacent[self.vertex_of_column(j)].push((i, id));
                }
            }
        }
        // Tarjan's bridges, without recursion.
        let mut order = vec![usize::MAX; vertices];
        let mut low = vec![0; vertices];
        let mut next = 0;
        for start in 0..vertices {
            if order[start] != usize::MAX {
                continue;
            }
            order[start] = next;
            low[start] = next;
            next += 1;
            // (vertex, the edge it was reached by, the next neighbour to look at)
            let mut stack = vec![(start, usize::MAX, 0usize)];
            while let Some(&mut (v, via, ref mut at)) = stack.last_mut() {
                if let Some(&(w, id)) = adjacent[v].get(*at) {
                    *at += 1;
                    if id == via {
                        continue;
                    }
                    if order[w] == usize::MAX {
                        order[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push((w, id, 0));
                    } else {
                        low[v] = low[v].min(order[w]);
                    }
                } else {
                    stack.pop();
                    if let Some(&(parent, _, _)) = stack.last() {
                        low[parent] = low[parent].min(low[v]);
                        if low[v] > order[parent] {
                            return Some(edges[via]);
                        }
                    }
                }
            }
        }
        None
    }

    /// What keeping cell `(i, j)` back costs: its count (small ones
    /// first), a zero or a total only where nothing else closes the cycle.
    fn cost(&self, i: usize, j: usize) -> u64 {
        let value = self.values[i][j];
        let total = i + 1 == self.rows() || j + 1 == self.columns();
        let base = if value == 0 { 1 << 40 } else { 1 + value };
        if total { base + (1 << 30) } else { base }
    }

    /// Keeps back the cells of the cheapest path that closes a cycle
    /// through the bridge `(r, c)`: from row `r` to column `c` through the
    /// grid, kept cells costing nothing, the bridge itself left out.
    fn close_cycle(&mut self, (r, c): (usize, usize)) {
        let (rows, columns) = (self.rows(), self.columns());
        let vertices = rows + columns;
        let target = self.vertex_of_column(c);
        let mut best = vec![u64::MAX; vertices];
        let mut from: Vec<Option<usize>> = vec![None; vertices];
        let mut done = vec![false; vertices];
        best[r] = 0;
        // Dense Dijkstra: the graph is complete bipartite.
        while let Some(v) = (0..vertices)
            .filter(|&v| !done[v] && best[v] != u64::MAX)
            .min_by_key(|&v| best[v])
        {
            if v == target {
                break;
            }
            done[v] = true;
            let neighbours: Vec<(usize, (usize, usize))> = if v < rows {
                (0..columns)
                    .map(|j| (self.vertex_of_column(j), (v, j)))
                    .collect()
            } else {
                (0..rows).map(|i| (i, (i, v - rows))).collect()
            };
            for (w, (i, j)) in neighbours {
                if (i, j) == (r, c) || done[w] {
                    continue;
                }
                let step = if self.kept[i][j] { 0 } else { self.cost(i, j) };
                let through = best[v].saturating_add(step);
                if through < best[w] {
                    best[w] = through;
                    from[w] = Some(v);
                }
            }
        }
        let mut w = target;
        let mut path_found = false;
        while let Some(v) = from[w] {
            let (i, j) = if v < rows {
                (v, w - rows)
            } else {
                (w, v - rows)
            };
            self.kept[i][j] = true;
            w = v;
            path_found = true;
        }
        if !path_found {
            // A grid of one cell (no other path): nothing can be shown.
            for row in &mut self.kept {
                row.iter_mut().for_each(|k| *k = true);
            }
        }
    }

    fn published(&self) -> Published {
        let cell = |i: usize, j: usize| {
            let value = self.values[i][j];
            match (self.kept[i][j], value) {
                (false, _) => Cell::Shown(value),
                (true, v) if (1..MIN_COUNT).contains(&v) => Cell::Small,
                (true, _) => Cell::Hidden,
            }
        };
        let (last_row, last_column) = (self.rows() - 1, self.columns() - 1);
        Published {
            cells: (0..last_row)
                .map(|i| (0..last_column).map(|j| cell(i, j)).collect())
                .collect(),
            row_totals: (0..last_row).map(|i| cell(i, last_column)).collect(),
            column_totals: (0..last_column).map(|j| cell(last_row, j)).collect(),
            total: cell(last_row, last_column),
        }
    }
}

/// Publishes tables of `columns` columns each that add up to the same
/// column totals (such as the week's table per job center and per service
/// center, both adding up to the national figures): small counts as "< 5",
/// and as many further cells kept back as it takes so that no kept-back
/// cell of any of them can be computed from what is published. A table
/// whose column totals differ from the first's is protected on its own.
pub fn protect(tables: &[Vec<Vec<u64>>], columns: usize) -> Vec<Published> {
    let mut grids: Vec<Grid> = tables.iter().map(|t| Grid::new(t, columns)).collect();
    let shares = |grids: &[Grid], t: usize| {
        t > 0 && grids[t].values.last() == grids.first().and_then(|g| g.values.last())
    };
    loop {
        // A total kept back in one table is kept back in those sharing it.
        let shared: Vec<bool> = (0..=columns)
            .map(|j| {
                (0..grids.len())
                    .filter(|&t| t == 0 || shares(&grids, t))
                    .any(|t| grids[t].kept.last().is_some_and(|row| row[j]))
            })
            .collect();
        for t in 0..grids.len() {
            if t == 0 || shares(&grids, t) {
                let sharing = grids[t].kept.last_mut();
                if let Some(row) = sharing {
                    for (k, s) in row.iter_mut().zip(&shared) {
                        *k |= *s;
                    }
                }
            }
        }
        let mut changed = false;
        for grid in &mut grids {
            if let Some(bridge) = grid.bridge() {
                grid.close_cycle(bridge);
                changed = true;
            }
        }
        if !changed {
            return grids.iter().map(Grid::published).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Cell::{Hidden as H, Shown as S, Small};

    /// Whether a kept-back cell of `tables` (sharing their column totals)
    /// is determined by the published cells and the sums: by linear
    /// algebra, independently of the graph above. The unknowns are the
    /// kept-back cells (a shared total once), the equations the sums.
    fn computable(tables: &[Vec<Vec<u64>>], published: &[Published]) -> Vec<String> {
        // Each unknown: (table or "shared", row, column) in the full grid.
        let mut unknowns: Vec<(usize, usize, usize)> = Vec::new();
        let columns = published[0].column_totals.len();
        let grid_of = |p: &Published| -> Vec<Vec<Cell>> {
            let mut g: Vec<Vec<Cell>> = p
                .cells
                .iter()
                .zip(&p.row_totals)
                .map(|(row, t)| row.iter().copied().chain([*t]).collect())
                .collect();
            g.push(p.column_totals.iter().copied().chain([p.total]).collect());
            g
        };
        let grids: Vec<Vec<Vec<Cell>>> = published.iter().map(grid_of).collect();
        let index = |unknowns: &mut Vec<(usize, usize, usize)>, t: usize, i: usize, j: usize| {
            let rows = grids[t].len();
            let key = if i + 1 == rows {
                (usize::MAX, 0, j)
            } else {
                (t, i, j)
            };
            match unknowns.iter().position(|u| *u == key) {
                Some(k) => k,
                None => {
                    unknowns.push(key);
                    unknowns.len() - 1
                }
            }
        };
        let mut equations: Vec<Vec<(usize, f64)>> = Vec::new();
        for (t, grid) in grids.iter().enumerate() {
            let rows = grid.len();
            let last = columns;
            let kept = |i: usize, j: usize| !matches!(grid[i][j], Cell::Shown(_));
            // Rows: the cells minus the row total; columns: the cells minus
            // the column total.
            for i in 0..rows {
                let mut eq = Vec::new();
                for j in 0..=last {
                    if kept(i, j) {
                        let sign = if j == last { -1.0 } else { 1.0 };
                        eq.push((index(&mut unknowns, t, i, j), sign));
                    }
                }
                equations.push(eq);
            }
            for j in 0..=last {
                let mut eq = Vec::new();
                for i in 0..rows {
                    if kept(i, j) {
                        let sign = if i + 1 == rows { -1.0 } else { 1.0 };
                        eq.push((index(&mut unknowns, t, i, j), sign));
                    }
                }
                equations.push(eq);
            }
        }
        let n = unknowns.len();
        let matrix: Vec<Vec<f64>> = equations
            .iter()
            .map(|eq| {
                let mut row = vec![0.0; n];
                for (k, s) in eq {
                    row[*k] += s;
                }
                row
            })
            .collect();
        let base = rank(matrix.clone());
        let _ = tables;
        unknowns
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let mut with = matrix.clone();
                let mut unit = vec![0.0; n];
                unit[*k] = 1.0;
                with.push(unit);
                rank(with) == base
            })
            .map(|(_, u)| format!("{u:?}"))
            .collect()
    }

    fn rank(mut m: Vec<Vec<f64>>) -> usize {
        let columns = m.first().map_or(0, Vec::len);
        let mut rank = 0;
        for c in 0..columns {
            let Some(p) = (rank..m.len()).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))
            else {
                break;
            };
            if m[p][c].abs() < 1e-9 {
                continue;
            }
            m.swap(rank, p);
            for r in 0..m.len() {
                if r != rank {
                    let f = m[r][c] / m[rank][c];
                    if f != 0.0 {
                        let pivot = m[rank].clone();
                        for (x, p) in m[r].iter_mut().zip(&pivot).skip(c) {
                            *x -= f * p;
                        }
                    }
                }
            }
            rank += 1;
        }
        rank
    }

    #[test]
    fn a_table_without_small_counts_is_shown_whole() {
        let p = protect(&[vec![vec![10, 20], vec![5, 7]]], 2);
        assert_eq!(p[0].cells, vec![vec![S(10), S(20)], vec![S(5), S(7)]]);
        assert_eq!(p[0].row_totals, vec![S(30), S(12)]);
        assert_eq!(p[0].column_totals, vec![S(15), S(27)]);
        assert_eq!(p[0].total, S(42));
    }

    /// By hand: the 3 in the first row is small; its row and column would
    /// give it away, so the cheapest cells closing a cycle are kept back:
    /// the 6 beside it and the 8 below it, and the 9 that closes the square.
    #[test]
    fn one_small_count_takes_three_more_cells() {
        let table = vec![vec![3, 6, 20], vec![8, 9, 30], vec![40, 50, 60]];
        let p = protect(std::slice::from_ref(&table), 3);
        assert_eq!(
            p[0].cells,
            vec![
                vec![Small, H, S(20)],
                vec![H, H, S(30)],
                vec![S(40), S(50), S(60)],
            ]
        );
        assert_eq!(p[0].row_totals, vec![S(29), S(47), S(150)]);
        assert_eq!(p[0].column_totals, vec![S(51), S(65), S(110)]);
        assert!(computable(&[table], &p).is_empty());
    }

    /// Two small counts in one row and one column already hide each other
    /// along the row but not down the columns: two more below them.
    #[test]
    fn two_small_counts_in_a_row_take_the_two_below() {
        let table = vec![vec![2, 4, 30], vec![12, 11, 40]];
        let p = protect(std::slice::from_ref(&table), 3);
        assert_eq!(
            p[0].cells,
            vec![vec![Small, Small, S(30)], vec![H, H, S(40)]]
        );
        assert_eq!(p[0].row_totals, vec![S(36), S(63)]);
        assert!(computable(&[table], &p).is_empty());
    }

    /// A column whose total is itself small: the total is kept back, and
    /// the national total then in the other table of the week too.
    #[test]
    fn a_small_total_is_kept_back_in_every_table_of_the_week() {
        let by_job_center = vec![vec![2, 10], vec![1, 20]];
        let by_service_center = vec![vec![3, 30]];
        let tables = [by_job_center, by_service_center];
        let p = protect(&tables, 2);
        assert_eq!(p[0].column_totals[0], Small);
        assert_eq!(p[1].column_totals[0], Small);
        assert_eq!(p[1].cells[0][0], Small);
        assert!(computable(&tables, &p).is_empty(), "{p:?}");
        assert_eq!(p[0].column_totals, p[1].column_totals);
        assert_eq!(p[0].total, p[1].total);
    }

    #[test]
    fn zero_is_shown_and_rates_need_five_published_people() {
        let p = protect(&[vec![vec![0, 12], vec![0, 30]]], 2);
        assert_eq!(p[0].cells[0][0], S(0));
        assert_eq!(rate(S(3), S(12)), Some(0.25));
        assert_eq!(rate(S(1), S(4)), None);
        assert_eq!(rate(Small, S(40)), None);
        assert_eq!(rate(S(7), H), None);
        assert_eq!(Small.label(), "< 5");
        assert_eq!(H.label(), "*");
    }

    mod random {
        use super::*;
        use proptest::prelude::*;

        /// Counts with many small ones, as a week per job center has.
        fn table(rows: usize, columns: usize) -> impl Strategy<Value = Vec<Vec<u64>>> {
            proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(0u64), 1u64..5, 5u64..40], columns),
                rows,
            )
        }

        /// A second table of the same week: the same column totals split
        /// over other rows (service centers instead of job centers).
        fn regrouped(table: &[Vec<u64>], rows: usize, cut: &[u64]) -> Vec<Vec<u64>> {
            let columns = table.first().map_or(0, Vec::len);
            let mut out = vec![vec![0u64; columns]; rows];
            for j in 0..columns {
                let mut left: u64 = table.iter().map(|r| r[j]).sum();
                for (i, row) in out.iter_mut().enumerate() {
                    let share = if i + 1 == rows {
                        left
                    } else {
                        left.min(cut[(i * columns + j) % cut.len()])
                    };
                    row[j] = share;
                    left -= share;
                }
            }
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn no_kept_back_cell_of_a_week_can_be_computed(
                (t, rows2, cut) in (1usize..7, 1usize..5)
                    .prop_flat_map(|(r, c)| (table(r, c), 1usize..4, proptest::collection::vec(0u64..30, 1..8)))
            ) {
                let columns = t[0].len();
                let second = regrouped(&t, rows2, &cut);
                let tables = [t.clone(), second];
                let p = protect(&tables, columns);
                let found = computable(&tables, &p);
                prop_assert!(found.is_empty(), "computable: {:?} in {:?} → {:?}", found, tables, p);
                // Every small count is kept back, every other count shown or kept back.
                for (table, published) in tables.iter().zip(&p) {
                    for (row, cells) in table.iter().zip(&published.cells) {
                        for (v, c) in row.iter().zip(cells) {
                            if (1..MIN_COUNT).contains(v) {
                                prop_assert_eq!(*c, Small);
                            } else if let Cell::Shown(n) = c {
                                prop_assert_eq!(n, v);
                            }
                        }
                    }
                }
            }
        }
    }
}
