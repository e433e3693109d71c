"""Top-level field names METRC's published v1/v2 examples carry, per importer shape.

Fields outside these sets are ignored and reported in the import summary, so a new
METRC field never stops an import but never passes unnoticed either.
"""

PACKAGE = frozenset({
    'ArchivedDate', 'ContainsDecontaminatedProduct', 'ContainsRemediatedProduct',
    'DecontaminationDate', 'ExpirationDate', 'ExternalId', 'FinishedDate', 'Id',
    'InitialLabTestingState', 'IsDonation', 'IsDonationPersistent', 'IsFinished',
    'IsFinishedGood', 'IsOnHold', 'IsOnHoldCombined', 'IsOnInvestigation',
    'IsOnInvestigationHold', 'IsOnInvestigationRecall', 'IsOnRecall', 'IsOnRecallCombined',
    'IsOnRetailerDelivery', 'IsProcessValidationTestingSample', 'IsProductionBatch',
    'IsTestingSample', 'IsTradeSample', 'IsTradeSamplePersistent', 'Item',
    'ItemFromFacilityLicenseNumber', 'ItemFromFacilityName',
    'LabTestResultExpirationDateTime', 'LabTestStage', 'LabTestStageId',
    'LabTestingPerformedDate', 'LabTestingRecordedDate', 'LabTestingState',
    'LabTestingStateDate', 'Label', 'LabelsLastGeneratedDateTime', 'LastModified',
    'LocationId', 'LocationName', 'LocationTypeName', 'Note', 'OriginalPackageQuantity',
    'PackageForProductDestruction', 'PackageType', 'PackagedDate', 'PatientLicenseNumber',
    'ProductLabel', 'ProductRequiresDecontamination', 'ProductRequiresRemediation',
    'ProductionBatchNumber', 'Quantity', 'ReceivedDateTime',
    'ReceivedFromFacilityLicenseNumber', 'ReceivedFromFacilityName',
    'ReceivedFromManifestNumber', 'RemediationDate', 'SellByDate', 'SourceHarvestCount',
    'SourceHarvestNames', 'SourcePackageCount', 'SourcePackageIsDonation',
    'SourcePackageIsTradeSample', 'SourcePackageLabels', 'SourceProcessingJobCount',
    'SourceProductionBatchNumbers', 'SublocationId', 'SublocationName',
    'UnitOfMeasureAbbreviation', 'UnitOfMeasureName', 'UseByDate'
})

ADJUSTMENT = frozenset({
    'AdjustedByUserName', 'AdjustmentDate', 'AdjustmentNote', 'AdjustmentQuantity',
    'AdjustmentReason', 'AdjustmentReasonName', 'AdjustmentUnitOfMeasureAbbreviation',
    'AdjustmentUnitOfMeasureName', 'ItemCategoryName', 'ItemName', 'Label', 'PackageId',
    'PackageLabTestResultExpirationDateTime', 'PackageLabel', 'PackagedDate', 'Quantity',
    'ReasonNote', 'UnitOfMeasure'
})

ADJUST_REASON = frozenset({
    'Name', 'RequiresImmatureWasteWeight', 'RequiresMatureWasteWeight', 'RequiresNote',
    'RequiresWasteWeight'
})

RECEIPT = frozenset({
    'ArchivedDate', 'CaregiverLicenseNumber', 'ExternalReceiptNumber', 'Id',
    'IdentificationMethod', 'IsFinal', 'LastModified', 'PatientLicenseNumber',
    'PatientRegistrationLocationId', 'ReceiptNumber', 'RecordedByUserName',
    'RecordedDateTime', 'SalesCustomerType', 'SalesDateTime', 'TotalPackages', 'TotalPrice',
    'Transactions'
})

INCOMING_TRANSFER = frozenset({
    'ActualArrivalDateTime', 'ActualDepartureDateTime', 'ActualReturnArrivalDateTime',
    'ActualReturnDepartureDateTime', 'ContainsDonation', 'ContainsPlantPackage',
    'ContainsProductPackage', 'ContainsProductRequiresRemediation',
    'ContainsRemediatedProductPackage', 'ContainsTestingSample', 'ContainsTradeSample',
    'CreatedByUserName', 'CreatedDateTime', 'DeliveryCount', 'DeliveryId',
    'DeliveryPackageCount', 'DeliveryReceivedPackageCount', 'DriverName',
    'DriverOccupationalLicenseNumber', 'DriverVehicleLicenseNumber',
    'EstimatedArrivalDateTime', 'EstimatedDepartureDateTime',
    'EstimatedReturnArrivalDateTime', 'EstimatedReturnDepartureDateTime', 'Id',
    'InvoiceNumber', 'IsVoided', 'LastModified', 'ManifestNumber', 'Name',
    'OriginatingTemplateId', 'PackageCount', 'Packages', 'ReceivedDateTime',
    'ReceivedDeliveryCount', 'ReceivedPackageCount', 'RecipientFacilityLicenseNumber',
    'RecipientFacilityName', 'ShipmentLicenseType', 'ShipmentTransactionType',
    'ShipmentTypeName', 'ShipperFacilityLicenseNumber', 'ShipperFacilityName',
    'TransporterFacilityLicenseNumber', 'TransporterFacilityName',
    'VehicleLicensePlateNumber', 'VehicleMake', 'VehicleModel'
})

LOCATION_CHANGE = frozenset({
    'Label', 'Location', 'MoveDate', 'RecordedDateTime', 'Sublocation'
})

FINISHED_PACKAGE = frozenset({
    'ActualDate', 'Label', 'RecordedDateTime'
})
