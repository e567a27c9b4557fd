"""The repo's virtual dataset methods: references to existing netCDF, HDF5, GRIB, TIFF,
Zarr and kerchunk sources, without copying. Part of ``Repo`` and ``AsyncRepo`` (see
``repo``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import Path

if TYPE_CHECKING:
    from ._core import RepoCore


class _VirtualMethods:
    """Adding virtual references to the current session."""

    _core: RepoCore

    def add_kerchunk_references(
        self, refs: dict[str, Any] | str, path: Path, *, progress: bool = True, **kwargs: Any
    ) -> None:
        """Add kerchunk references (version 0 or 1) under ``path``, without copying data.

        Inline data (plain text and ``base64:``) becomes ordinary chunks; ``templates``
        and ``gen`` are expanded; a ``[url]`` reference stands for a whole file. Nothing
        is visible to others until ``commit``.

        Args:
            refs: the references as a dict, or the path or URL of a kerchunk JSON file.
            path: the group to put them under (``""`` for the root).
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.
            **kwargs: ``storage_options`` and ``record_versions``, below.

        Keyword Args:
            storage_options (dict | None): how ingest reads the source: boto3 client
                options for ``s3://`` (``endpoint_url``, ``region_name``, ...), ``headers``
                for ``http(s)://``. Reads of the chunks later go through the client's own
                storage options and environment.
            record_versions (bool): record each source's ETag and modification time
                (default True), so that reading a changed source raises
                ``SourceChangedError`` instead of returning wrong bytes. False skips the
                lookup at ingest.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: an unexpected keyword argument, or a source it cannot
                reference (the message says why).

        Example:
            >>> repo.add_kerchunk_references("combined.json", "era5", record_versions=False)
            >>> repo.commit("add kerchunk references")
        """
        self._core.ingest_virtual("add_kerchunk_references", refs, path, progress=progress, **kwargs)

    def add_virtual_netcdf(self, netcdf_uri: str, path: Path, *, progress: bool = True, **kwargs: Any) -> None:
        """Reference a netCDF3 or netCDF4/HDF5 file's variables under ``path`` without copying.

        The format is chosen by the file's magic bytes. netCDF3 (classic, 64-bit offset,
        CDF-5) is parsed natively; netCDF4/HDF5 goes through kerchunk's
        ``SingleHdf5ToZarr``, aligned with what xarray reads. The references are stored
        as Zarr format 2 keys under ``path``; nothing is visible to others until
        ``commit``.

        Args:
            netcdf_uri: a local path, or a ``file://``, ``s3://``, ``gs://`` or
                ``http(s)://`` URL.
            path: the group to put the variables under (``""`` for the root).
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.
            **kwargs: ``storage_options`` and ``record_versions``, below; for an HDF5
                source, any other keyword goes to kerchunk's ``SingleHdf5ToZarr`` (e.g.
                ``inline_threshold``, default 0). A netCDF3 source takes no other keyword.

        Keyword Args:
            storage_options (dict | None): how ingest reads the source: boto3 client
                options for ``s3://`` (``endpoint_url``, ``region_name``, ...), ``headers``
                for ``http(s)://``. Reads of the chunks later go through the client's own
                storage options and environment.
            record_versions (bool): record each source's ETag and modification time
                (default True), so that reading a changed source raises
                ``SourceChangedError`` instead of returning wrong bytes. False skips the
                lookup at ingest.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: an unexpected keyword argument, or a source it cannot
                reference (the message says why).

        Example:
            >>> opts = {"region_name": "eu-west-1"}
            >>> repo.add_virtual_netcdf("s3://era5/2020/t2m.nc", "era5/2020", storage_options=opts)
            >>> repo.commit("add 2020")
            >>> repo.to_xarray("era5/2020")
        """
        self._core.ingest_virtual("add_virtual_netcdf", netcdf_uri, path, progress=progress, **kwargs)

    def add_virtual_hdf(self, hdf_uri: str, path: Path, *, progress: bool = True, **kwargs: Any) -> None:
        """Reference an HDF5 file's datasets under ``path`` without copying.

        The same as ``add_virtual_netcdf`` (which also takes HDF5 files): the datasets go
        through kerchunk's ``SingleHdf5ToZarr`` and are stored as Zarr format 2 keys.

        Args:
            hdf_uri: a local path, or a ``file://``, ``s3://``, ``gs://`` or
                ``http(s)://`` URL.
            path: the group to put the datasets under (``""`` for the root).
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.
            **kwargs: ``storage_options`` and ``record_versions``, below; any other
                keyword goes to kerchunk's ``SingleHdf5ToZarr``.

        Keyword Args:
            storage_options (dict | None): how ingest reads the source: boto3 client
                options for ``s3://`` (``endpoint_url``, ``region_name``, ...), ``headers``
                for ``http(s)://``. Reads of the chunks later go through the client's own
                storage options and environment.
            record_versions (bool): record each source's ETag and modification time
                (default True), so that reading a changed source raises
                ``SourceChangedError`` instead of returning wrong bytes. False skips the
                lookup at ingest.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: an unexpected keyword argument, or a source it cannot
                reference (the message says why).

        Example:
            >>> repo.add_virtual_hdf("/data/netcdf/obs.h5", "obs", progress=False)
        """
        self._core.ingest_virtual("add_virtual_hdf", hdf_uri, path, progress=progress, **kwargs)

    def add_virtual_grib(self, grib_uri: str, path: Path, *, progress: bool = True, **kwargs: Any) -> None:
        """Reference a GRIB file's messages under ``path``, concatenated along the coordinate they differ in.

        cfgrib indexes the file as ``xarray.open_dataset(engine="cfgrib")`` does;
        coordinates are stored, and each data field references its whole message
        (decoded by kerchunk's ``grib`` codec with eccodes). A remote source is copied to
        a temporary file for indexing, then referenced where it is.

        Args:
            grib_uri: a local path, or a ``file://``, ``s3://``, ``gs://`` or
                ``http(s)://`` URL of a GRIB 1 or 2 file.
            path: the group to put the variables under (``""`` for the root).
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.
            **kwargs: the options below; any other keyword goes to
                ``cfgrib.dataset.open_file``.

        Keyword Args:
            concat_dims (str | list[str] | None): the coordinates the messages may differ
                in; without it they must differ in exactly one.
            filter_by_keys (dict): select messages, as in cfgrib (e.g.
                ``{"typeOfLevel": "surface"}``).
            storage_options (dict | None): how ingest reads the source: boto3 client
                options for ``s3://`` (``endpoint_url``, ``region_name``, ...), ``headers``
                for ``http(s)://``. Reads of the chunks later go through the client's own
                storage options and environment.
            record_versions (bool): record each source's ETag and modification time
                (default True), so that reading a changed source raises
                ``SourceChangedError`` instead of returning wrong bytes. False skips the
                lookup at ingest.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: an unexpected keyword argument, or a source it cannot
                reference (the message says why). Messages that differ in several coordinates (or
                none) without ``concat_dims`` are refused, naming them.

        Example:
            >>> surface = {"typeOfLevel": "surface"}
            >>> repo.add_virtual_grib("/data/forecast.grib2", "forecast", filter_by_keys=surface)
        """
        self._core.ingest_virtual("add_virtual_grib", grib_uri, path, progress=progress, **kwargs)

    def add_virtual_zarr(self, zarr_uri: str, path: Path, *, progress: bool = True) -> None:
        """Reference an existing Zarr store (format 2 or 3, sharded too) under ``path``.

        Metadata documents are copied; every chunk or shard file becomes a reference to
        the whole file, and consolidated metadata is dropped. The store keeps its own
        Zarr format. This method takes no other keyword arguments: an ``s3://`` source is
        listed and read with boto3's default credentials, and source versions are
        recorded.

        Args:
            zarr_uri: a local directory, ``file://`` or ``s3://`` URL of the store's root
                (HTTP has no listing, so it is refused).
            path: the group to put it under.
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: a source it cannot reference (the message says why).

        Example:
            >>> repo.add_virtual_zarr("s3://era5/store.zarr", "store")
        """
        self._core.ingest_virtual("add_virtual_zarr", zarr_uri, path, progress=progress)

    def add_virtual_tiff(self, tiff_uri: str, path: Path, name: str, *, progress: bool = True, **kwargs: Any) -> None:
        """Reference a TIFF, GeoTIFF or COG image as ``path/name`` without copying.

        tifffile lists the tiles or strips. The array's dimensions are ``Y``, ``X`` and
        ``band`` (tifffile's sample, channel or page axis). With overviews, ``path/name``
        is a group of arrays ``0``, ``1``, ... with ``multiscales`` attributes, level *i*
        having dimensions ``Y<i>``, ``X<i>``. GDAL nodata becomes the fill value;
        TIFF/GeoTIFF tags become attributes.

        Args:
            tiff_uri: a local path, or a ``file://``, ``s3://``, ``gs://`` or
                ``http(s)://`` URL.
            path: the group to put the image under (``""`` for the root).
            name: the array's (or group's) name: one non-empty name without ``/``.
            progress: show a progress bar on a terminal while the references are written,
                for 10,000 references or more.
            **kwargs: the options below.

        Keyword Args:
            series (int): the tifffile series to reference (default 0).
            storage_options (dict | None): how ingest reads the source: boto3 client
                options for ``s3://`` (``endpoint_url``, ``region_name``, ...), ``headers``
                for ``http(s)://``. Reads of the chunks later go through the client's own
                storage options and environment.
            record_versions (bool): record each source's ETag and modification time
                (default True), so that reading a changed source raises
                ``SourceChangedError`` instead of returning wrong bytes. False skips the
                lookup at ingest.

        Raises:
            ReadOnlyError: the session is read-only.
            InvalidInputError: an unexpected keyword argument, or a source it cannot
                reference (the message says why). A codec this environment cannot decode is
                refused too.
            InvalidNameError: a bad ``name``.

        Example:
            >>> repo.add_virtual_tiff("s3://era5/dem.tif", "static", "dem")
            >>> repo.to_xarray("static")["dem"]
        """
        self._core.ingest_virtual("add_virtual_tiff", tiff_uri, path, name, progress=progress, **kwargs)
