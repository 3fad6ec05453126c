"""Predefined XMP schemas (XMP Specification 2005, as ISO 19005-2 6.6.2.3.1 refers to them).

Each property maps to its value type: a simple type name, ``"LangAlt"``, a container
``"Seq T"`` / ``"Bag T"`` / ``"Alt T"`` or a structure name from :data:`STRUCTS`.
"""

from __future__ import annotations

T, I, R, B, D, Q, U = "Text", "Integer", "Real", "Boolean", "Date", "Rational", "URI"

NAMESPACES: dict[str, dict[str, str]] = {
    "http://purl.org/dc/elements/1.1/": {
        "contributor": "Bag Text", "coverage": T, "creator": "Seq Text", "date": "Seq Date",
        "description": "LangAlt", "format": "MIMEType", "identifier": T, "language": "Bag Locale",
        "publisher": "Bag Text", "relation": "Bag Text", "rights": "LangAlt", "source": T,
        "subject": "Bag Text", "title": "LangAlt", "type": "Bag Text"},
    "http://ns.adobe.com/xap/1.0/": {
        "Advisory": "Bag Text", "BaseURL": U, "CreateDate": D, "CreatorTool": T,
        "Identifier": "Bag Text", "Label": T, "MetadataDate": D, "ModifyDate": D,
        "Nickname": T, "Rating": R, "Thumbnails": "Alt Thumbnail"},
    "http://ns.adobe.com/xap/1.0/rights/": {
        "Certificate": U, "Marked": B, "Owner": "Bag Text", "UsageTerms": "LangAlt",
        "WebStatement": U},
    "http://ns.adobe.com/xap/1.0/mm/": {
        "DerivedFrom": "ResourceRef", "DocumentID": U, "History": "Seq ResourceEvent",
        "Ingredients": "Bag ResourceRef", "InstanceID": U, "LastURL": U,
        "ManagedFrom": "ResourceRef", "Manager": T, "ManageTo": U, "ManageUI": U,
        "ManagerVariant": T, "OriginalDocumentID": U, "RenditionClass": T,
        "RenditionParams": T, "RenditionOf": "ResourceRef", "SaveID": I, "VersionID": T,
        "Versions": "Seq Version"},
    "http://ns.adobe.com/xap/1.0/bj/": {"JobRef": "Bag Job"},
    "http://ns.adobe.com/xap/1.0/t/pg/": {
        "MaxPageSize": "Dimensions", "NPages": I, "Fonts": "Bag Font",
        "Colorants": "Seq Colorant", "PlateNames": "Seq Text"},
    "http://ns.adobe.com/pdf/1.3/": {"Keywords": T, "PDFVersion": T, "Producer": T,
                                     "Trapped": B},
    "http://ns.adobe.com/photoshop/1.0/": {
        "AuthorsPosition": T, "CaptionWriter": T, "Category": T, "City": T, "ColorMode": I,
        "Country": T, "Credit": T, "DateCreated": D, "DocumentAncestors": "Bag Text",
        "Headline": T, "History": T, "ICCProfile": T, "Instructions": T, "Source": T,
        "State": T, "SupplementalCategories": "Bag Text", "TransmissionReference": T,
        "Urgency": I},
    "http://ns.adobe.com/tiff/1.0/": {
        "ImageWidth": I, "ImageLength": I, "BitsPerSample": "Seq Integer", "Compression": I,
        "PhotometricInterpretation": I, "Orientation": I, "SamplesPerPixel": I,
        "PlanarConfiguration": I, "YCbCrSubSampling": "Seq Integer", "YCbCrPositioning": I,
        "XResolution": Q, "YResolution": Q, "ResolutionUnit": I,
        "TransferFunction": "Seq Integer", "WhitePoint": "Seq Rational",
        "PrimaryChromaticities": "Seq Rational", "YCbCrCoefficients": "Seq Rational",
        "ReferenceBlackWhite": "Seq Rational", "DateTime": D, "ImageDescription": "LangAlt",
        "Make": T, "Model": T, "Software": T, "Artist": T, "Copyright": "LangAlt",
        "NativeDigest": T},
    "http://ns.adobe.com/exif/1.0/": {
        "ExifVersion": T, "FlashpixVersion": T, "ColorSpace": I,
        "ComponentsConfiguration": "Seq Integer", "CompressedBitsPerPixel": Q,
        "PixelXDimension": I, "PixelYDimension": I, "UserComment": "LangAlt",
        "RelatedSoundFile": T, "DateTimeOriginal": D, "DateTimeDigitized": D,
        "ExposureTime": Q, "FNumber": Q, "ExposureProgram": I, "SpectralSensitivity": T,
        "ISOSpeedRatings": "Seq Integer", "OECF": "OECF", "ShutterSpeedValue": Q,
        "ApertureValue": Q, "BrightnessValue": Q, "ExposureBiasValue": Q,
        "MaxApertureValue": Q, "SubjectDistance": Q, "MeteringMode": I, "LightSource": I,
        "Flash": "Flash", "FocalLength": Q, "SubjectArea": "Seq Integer", "FlashEnergy": Q,
        "SpatialFrequencyResponse": "OECF", "FocalPlaneXResolution": Q,
        "FocalPlaneYResolution": Q, "FocalPlaneResolutionUnit": I,
        "SubjectLocation": "Seq Integer", "ExposureIndex": Q, "SensingMethod": I,
        "FileSource": I, "SceneType": I, "CFAPattern": "CFAPattern", "CustomRendered": I,
        "ExposureMode": I, "WhiteBalance": I, "DigitalZoomRatio": Q,
        "FocalLengthIn35mmFilm": I, "SceneCaptureType": I, "GainControl": I, "Contrast": I,
        "Saturation": I, "Sharpness": I, "DeviceSettingDescription": "DeviceSettings",
        "SubjectDistanceRange": I, "ImageUniqueID": T, "GPSVersionID": T,
        "GPSLatitude": "GPSCoordinate", "GPSLongitude": "GPSCoordinate", "GPSAltitudeRef": I,
        "GPSAltitude": Q, "GPSTimeStamp": D, "GPSSatellites": T, "GPSStatus": T,
        "GPSMeasureMode": T, "GPSDOP": Q, "GPSSpeedRef": T, "GPSSpeed": Q, "GPSTrackRef": T,
        "GPSTrack": Q, "GPSImgDirectionRef": T, "GPSImgDirection": Q, "GPSMapDatum": T,
        "GPSDestLatitude": "GPSCoordinate", "GPSDestLongitude": "GPSCoordinate",
        "GPSDestBearingRef": T, "GPSDestBearing": Q, "GPSDestDistanceRef": T,
        "GPSDestDistance": Q, "GPSProcessingMethod": T, "GPSAreaInformation": T,
        "GPSDifferential": I},
    "http://ns.adobe.com/exif/1.0/aux/": {"Lens": T, "SerialNumber": T},
    "http://ns.adobe.com/camera-raw-settings/1.0/": {
        "AutoBrightness": B, "AutoContrast": B, "AutoExposure": B, "AutoShadows": B,
        "BlueHue": I, "BlueSaturation": I, "Brightness": I, "CameraProfile": T,
        "ChromaticAberrationB": I, "ChromaticAberrationR": I, "ColorNoiseReduction": I,
        "Contrast": I, "CropTop": R, "CropLeft": R, "CropBottom": R, "CropRight": R,
        "CropAngle": R, "CropWidth": R, "CropHeight": R, "CropUnits": I, "Exposure": R,
        "GreenHue": I, "GreenSaturation": I, "HasCrop": B, "HasSettings": B,
        "LuminanceSmoothing": I, "RawFileName": T, "RedHue": I, "RedSaturation": I,
        "Saturation": I, "Shadows": I, "ShadowTint": I, "Sharpness": I, "Temperature": I,
        "Tint": I, "ToneCurve": "Seq Text", "ToneCurveName": T, "Version": T,
        "VignetteAmount": I, "VignetteMidpoint": I, "WhiteBalance": T},
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": {
        "absPeakAudioFilePath": U, "album": T, "altTapeName": T, "altTimecode": "Timecode",
        "artist": T, "audioModDate": D, "audioSampleRate": I, "audioSampleType": T,
        "audioChannelType": T, "audioCompressor": T, "beatSpliceParams": "BeatSpliceStretch",
        "composer": T, "contributedMedia": "Bag Media", "copyright": T, "duration": "Time",
        "engineer": T, "fileDataRate": Q, "genre": T, "instrument": T, "introTime": "Time",
        "key": T, "logComment": T, "loop": B, "numberOfBeats": R, "markers": "Seq Marker",
        "metadataModDate": D, "outCue": "Time", "projectRef": "ProjectLink", "pullDown": T,
        "relativePeakAudioFilePath": U, "relativeTimestamp": "Time", "releaseDate": D,
        "resampleParams": "ResampleStretch", "scaleType": T, "scene": T, "shotDate": D,
        "shotLocation": T, "shotName": T, "speakerPlacement": T,
        "startTimecode": "Timecode", "stretchMode": T, "tapeName": T, "tempo": R,
        "timeScaleParams": "TimeScaleStretch", "timeSignature": T, "trackNumber": I,
        "videoAlphaMode": T, "videoAlphaPremultipleColor": "Colorant",
        "videoAlphaUnityIsTransparent": B, "videoColorSpace": T, "videoCompressor": T,
        "videoFieldOrder": T, "videoFrameRate": T, "videoFrameSize": "Dimensions",
        "videoModDate": D, "videoPixelDepth": T, "videoPixelAspectRatio": Q},
    "http://www.aiim.org/pdfa/ns/id/": {"part": I, "conformance": T, "amd": T, "corr": T},
    "http://ns.adobe.com/xmp/Identifier/qual/1.0/": {"Scheme": T},
}

_DM = "http://ns.adobe.com/xmp/1.0/DynamicMedia/"
_EXIF = "http://ns.adobe.com/exif/1.0/"
STRUCTS: dict[str, tuple[str, dict[str, str]]] = {
    "Dimensions": ("http://ns.adobe.com/xap/1.0/sType/Dimensions#", {"w": R, "h": R, "unit": T}),
    "ResourceRef": ("http://ns.adobe.com/xap/1.0/sType/ResourceRef#", {
        "instanceID": U, "documentID": U, "versionID": T, "renditionClass": T,
        "renditionParams": T, "manager": T, "managerVariant": T, "manageTo": U, "manageUI": U,
        "filePath": U, "fromPart": T, "toPart": T, "lastModifyDate": D,
        "originalDocumentID": U, "maskMarkers": T, "alternatePaths": "Seq Text"}),
    "ResourceEvent": ("http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", {
        "action": T, "instanceID": U, "parameters": T, "softwareAgent": T, "when": D,
        "changed": T}),
    "Version": ("http://ns.adobe.com/xap/1.0/sType/Version#", {
        "comments": T, "event": "ResourceEvent", "modifyDate": D, "modifier": T,
        "version": T}),
    "Job": ("http://ns.adobe.com/xap/1.0/sType/Job#", {"name": T, "id": T, "url": U}),
    "Thumbnail": ("http://ns.adobe.com/xap/1.0/g/img/", {
        "height": I, "width": I, "format": T, "image": T}),
    "Font": ("http://ns.adobe.com/xap/1.0/sType/Font#", {
        "fontName": T, "fontFamily": T, "fontFace": T, "fontType": T, "versionString": T,
        "composite": B, "fontFileName": T, "childFontFiles": "Seq Text"}),
    "Colorant": ("http://ns.adobe.com/xap/1.0/g/", {
        "swatchName": T, "mode": T, "type": T, "cyan": R, "magenta": R, "yellow": R,
        "black": R, "red": I, "green": I, "blue": I, "L": R, "A": I, "B": I}),
    "Flash": (_EXIF, {"Fired": B, "Return": I, "Mode": I, "Function": B, "RedEyeMode": B}),
    "OECF": (_EXIF, {"Columns": I, "Rows": I, "Names": "Seq Text", "Values": "Seq Rational"}),
    "CFAPattern": (_EXIF, {"Columns": I, "Rows": I, "Values": "Seq Integer"}),
    "DeviceSettings": (_EXIF, {"Columns": I, "Rows": I, "Settings": "Seq Text"}),
    "Time": (_DM, {"value": I, "scale": Q}),
    "Timecode": (_DM, {"timeValue": T, "timeFormat": T}),
    "Marker": (_DM, {"startTime": "Time", "duration": "Time", "comment": T, "name": T, "location": U,
                     "target": T, "type": T}),
    "Media": (_DM, {"path": U, "track": T, "startTime": "Time", "duration": "Time",
                    "managed": B, "webStatement": U}),
    "ProjectLink": (_DM, {"type": T, "path": U}),
    "BeatSpliceStretch": (_DM, {"useFileBeatsMarker": B, "riseInDecibel": R,
                                "riseInTimeDuration": "Time"}),
    "ResampleStretch": (_DM, {"quality": T}),
    "TimeScaleStretch": (_DM, {"quality": T, "frameSize": R, "frameOverlappingPercentage": R}),
}
