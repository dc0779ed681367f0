//! The distributed kernels under MPI: run as `mpirun -n N target/.../mpi-<hash>` for N = 1,
//! 2, 3, 4 (CI does; `cargo test --features mpi` alone runs it as one rank). Every rank runs
//! every check; rank 0 compares with the single-process result and prints the count.

use std::sync::Arc;

use hpnum::distributed::{self, DistributedGrid};
use hpnum::kernels::norm::{LCG_SEED, lcg_vector};
use hpnum::{
    AnyBackend, Backend, Describe, DiffusionParams, Error, JuliaParams, NormKind, Real, Scalar,
};
use mpi::traits::*;
use ndarray::Array2;

const ROOT: i32 = 0;

/// A grid with structure in every cell, so a wrong neighbour or a wrong halo shows.
fn grid<T: Real>(rows: usize, cols: usize) -> Array2<T> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        T::from_f64(
            ((r * 7 + c * 13) % 11) as f64 / 11.0 + if (r + c) % 3 == 0 { 1.0 } else { 0.0 },
        )
    })
}

fn same_bits<T: Real>(a: &Array2<T>, b: &Array2<T>) -> bool {
    a.dim() == b.dim()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits())
}

fn diffusion_matches<T: Real + Equivalence>(
    world: &distributed::Comm,
    backend: &Arc<dyn AnyBackend>,
    (rows, cols): (usize, usize),
    halo: usize,
    steps: usize,
) -> usize
where
    dyn AnyBackend: Backend<T>,
{
    let rank = world.rank();
    let global = grid::<T>(rows, cols);
    let given = (rank == ROOT).then(|| global.view());
    let mut d =
        DistributedGrid::scatter(world, ROOT, given, (rows, cols), halo, Arc::clone(backend))
            .unwrap_or_else(|e| panic!("rank {rank}: {e}"));
    let params = DiffusionParams::<T>::book();
    // Half the steps with the exchange overlapping the interior, half without: the same bits.
    d.set_overlap(true);
    let first = d.step(&params, steps / 2).unwrap();
    d.set_overlap(false);
    let rest = d.step(&params, steps - steps / 2).unwrap();
    assert_eq!(
        first.exchanges + rest.exchanges,
        (steps / 2).div_ceil(halo) + (steps - steps / 2).div_ceil(halo)
    );
    let gathered = d.gather(ROOT).unwrap();
    // Each rank's band is its rows of the result.
    let band = d.band().to_owned();
    let mut want = global.clone();
    Scalar
        .diffuse(
            want.view_mut(),
            Array2::zeros((rows, cols)).view_mut(),
            &params,
            steps,
        )
        .unwrap();
    let mine = want.slice(ndarray::s![d.rows_here(), ..]).to_owned();
    assert!(
        same_bits(&band, &mine),
        "rank {rank}: band of {rows}×{cols}, K={halo}"
    );
    if rank == ROOT {
        let got = gathered.expect("the root gathers");
        assert!(
            same_bits(&got, &want),
            "{} {rows}×{cols} K={halo} on {}: not the single-process bits",
            T::PRECISION,
            backend.name()
        );
    } else {
        assert!(gathered.is_none());
    }
    // The distributed norm of the grid agrees with one process's, and with itself.
    let l2 = d.norm(NormKind::L2).unwrap();
    let again = d.norm(NormKind::L2).unwrap();
    assert_eq!(
        l2.as_f64().to_bits(),
        again.as_f64().to_bits(),
        "the same bits every run"
    );
    let single = Scalar
        .norm(
            want.view().into_shape_with_order(rows * cols).unwrap(),
            NormKind::L2,
        )
        .unwrap();
    let tol = if T::PRECISION == hpnum::Precision::F32 {
        1e-6
    } else {
        1e-14
    };
    assert!(
        ((l2.as_f64() - single.as_f64()) / single.as_f64()).abs() <= tol,
        "grid L2"
    );
    3
}

fn main() {
    // Before MPI starts its threads, as the examples do: no headless Vulkan error lines.
    #[cfg(feature = "gpu")]
    hpnum::backends::gpu::quiet_headless_vulkan();
    let universe = mpi::initialize().expect("MPI initialises once");
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size() as usize);
    let mut checks = 0;
    let backends: Vec<Arc<dyn AnyBackend>> = ["scalar", "simd", "rayon"]
        .iter()
        .map(|n| hpnum::backends::by_name(n).unwrap())
        .collect();

    // Diffusion: odd sizes (rows not divisible by the rank count), every K that fits.
    for backend in &backends {
        for (rows, cols) in [(size, 3), (7, 9), (13, 4), (31, 17), (64, 64)] {
            if rows < size {
                continue;
            }
            let thinnest = rows / size;
            for halo in [1, 2, 3, 5] {
                if halo > thinnest {
                    continue;
                }
                checks += diffusion_matches::<f64>(&world, backend, (rows, cols), halo, 11);
            }
            checks += diffusion_matches::<f32>(&world, backend, (rows, cols), 1, 7);
        }
    }

    // Errors on one rank are errors on every rank, never a hang.
    let scalar: Arc<dyn AnyBackend> = Arc::new(Scalar);
    let wrong = grid::<f64>(8, 5);
    let given = (rank == ROOT).then(|| wrong.view());
    match DistributedGrid::scatter(&world, ROOT, given, (9, 5), 1, Arc::clone(&scalar)) {
        Err(Error::ShapeMismatch { .. }) if rank == ROOT => {}
        Err(Error::Distributed { rank: 0, .. }) if rank != ROOT => {}
        other => panic!(
            "rank {rank}: a wrong global shape on the root gave {:?}",
            other.err()
        ),
    }
    checks += 1;
    if size > 1 {
        let few = grid::<f64>(size - 1, 4);
        let given = (rank == ROOT).then(|| few.view());
        match DistributedGrid::scatter(&world, ROOT, given, (size - 1, 4), 1, Arc::clone(&scalar)) {
            Err(Error::InvalidParameter { name: "ranks", .. }) => {}
            other => panic!("rank {rank}: more ranks than rows gave {:?}", other.err()),
        }
        checks += 1;
    }
    let g = grid::<f64>(2 * size, 4);
    let given = (rank == ROOT).then(|| g.view());
    match DistributedGrid::scatter(&world, ROOT, given, (2 * size, 4), 3, Arc::clone(&scalar)) {
        Err(Error::InvalidParameter { name: "halo", .. }) => {}
        other => panic!(
            "rank {rank}: a halo wider than a band gave {:?}",
            other.err()
        ),
    }
    checks += 1;

    // Norms of a vector split over the ranks: one process's value within rounding, the
    // same bits on every run, NaN from any rank.
    let v = lcg_vector::<f64>(100_003, LCG_SEED).unwrap();
    let bands = distributed::Bands::new(v.len(), size).unwrap();
    let mine = v.slice(ndarray::s![bands.rows_of(rank as usize)]);
    for kind in NormKind::ALL {
        let got = distributed::norm(&world, mine, kind, &Scalar).unwrap();
        let again = distributed::norm(&world, mine, kind, &Scalar).unwrap();
        let want = Scalar.norm(v.view(), kind).unwrap();
        assert_eq!(
            got.to_bits(),
            again.to_bits(),
            "{kind}: the same bits every run"
        );
        assert!(
            ((got - want) / want).abs() <= 1e-14,
            "{kind}: {got} vs {want}"
        );
        checks += 2;
    }
    let mut poisoned = mine.to_owned();
    if rank as usize == size - 1 {
        poisoned[0] = f64::NAN;
    }
    for kind in NormKind::ALL {
        assert!(
            distributed::norm(&world, poisoned.view(), kind, &Scalar)
                .unwrap()
                .is_nan()
        );
        checks += 1;
    }

    // The band resident on the GPU between exchanges (Mesa's software driver in CI): only
    // the halo rows cross the bus, and the bits are still one process's.
    let gpu = hpnum::Gpu::shared();
    let ok = i32::from(gpu.is_ok());
    let mut everywhere = 0;
    world.all_reduce_into(
        &ok,
        &mut everywhere,
        mpi::collective::SystemOperation::min(),
    );
    if let (1, Ok(gpu)) = (everywhere, gpu) {
        let exact = gpu
            .capabilities()
            .keeps_subnormals_in(hpnum::Precision::F32);
        for (rows, cols, halo) in [(31, 17, 2), (13, 64, 1), (4 * size + 1, 8, 4)] {
            if halo > rows / size {
                continue;
            }
            let global = grid::<f32>(rows, cols);
            let given = (rank == ROOT).then(|| global.view());
            let mut d =
                DistributedGrid::scatter_on_gpu(&world, ROOT, given, (rows, cols), halo, &gpu)
                    .unwrap();
            let params = DiffusionParams::<f32>::book();
            d.step(&params, 5).unwrap();
            d.step(&params, 6).unwrap();
            let mut want = global.clone();
            Scalar
                .diffuse(
                    want.view_mut(),
                    Array2::zeros((rows, cols)).view_mut(),
                    &params,
                    11,
                )
                .unwrap();
            let mine = want.slice(ndarray::s![d.rows_here(), ..]).to_owned();
            let band = d.band().to_owned();
            let gathered = d.gather(ROOT).unwrap();
            if exact {
                assert!(
                    same_bits(&band, &mine),
                    "rank {rank}: GPU band {rows}×{cols} K={halo}"
                );
                if let Some(got) = gathered {
                    assert!(
                        same_bits(&got, &want),
                        "GPU-resident {rows}×{cols} K={halo}"
                    );
                }
            }
            checks += 1;
        }
    } else if rank == ROOT {
        eprintln!("note: GPU-resident bands skipped: no GPU adapter on every rank");
    }

    // Julia in row bands, gathered.
    let params = JuliaParams::<f64>::book(64, 50).unwrap();
    let image = distributed::julia(&world, ROOT, &params, backends[1].as_ref()).unwrap();
    if rank == ROOT {
        assert_eq!(image.unwrap(), Scalar.julia(&params).unwrap());
    }
    checks += 1;

    world.barrier();
    if rank == ROOT {
        println!("mpi: {checks} checks passed on each of {size} ranks");
    }
}
